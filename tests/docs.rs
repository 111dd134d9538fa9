//! The README is a short entrance and the docs hold together: its size, where the two
//! commands stand, every relative link (and its anchor) leads somewhere, every page says what
//! it is for, and every shell block of the deploy steps is run by the rehearsal.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    crate::support::root()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Markdown files whose links are checked: the README, docs/, and the module's README.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![
        root().join("README.md"),
        root().join("infra/modules/grafana_on_demand/README.md"),
    ];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("a docs entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// GitHub's anchor for a heading: lower case, spaces to dashes, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// `[text](target)` links outside code, as (line number, target).
fn links(text: &str) -> Vec<(usize, String)> {
    let mut in_code = false;
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            found.push((n + 1, after[..end].to_owned()));
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn the_readme_is_a_short_entrance_with_the_two_commands_on_its_first_screen() {
    let readme = read(&root().join("README.md"));
    let lines: Vec<&str> = readme.lines().collect();
    assert!(
        lines.len() <= 200,
        "the README has {} lines: move reference to docs/",
        lines.len()
    );
    for command in ["cargo run --example server", "bash .ci/test"] {
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with(command));
        assert!(
            at.is_some_and(|n| n < 60),
            "`{command}` must open a line within the README's first 60 (at {at:?})"
        );
    }
}

#[test]
fn every_relative_link_leads_somewhere() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = read(&page);
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let dir = page.parent().expect("a page's folder");
            let to = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            if !to.exists() {
                broken.push(format!(
                    "{}:{line}: {target} (no such file)",
                    page.display()
                ));
            } else if !fragment.is_empty()
                && to.extension().is_some_and(|e| e == "md")
                && !anchors(&read(&to)).iter().any(|a| a == fragment)
            {
                broken.push(format!(
                    "{}:{line}: {target} (no such heading)",
                    page.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_docs_page_says_what_it_is_for_and_the_readme_links_it() {
    let readme = read(&root().join("README.md"));
    for page in pages()
        .into_iter()
        .filter(|p| p.starts_with(root().join("docs")))
    {
        let text = read(&page);
        let mut paragraphs = text.split("\n\n");
        let title = paragraphs.next().unwrap_or_default();
        let purpose = paragraphs.next().unwrap_or_default();
        assert!(
            title.starts_with("# ") && !title.contains('\n'),
            "{}: a title first",
            page.display()
        );
        assert!(
            !purpose.starts_with('#') && !purpose.starts_with('|') && purpose.ends_with('.'),
            "{}: the sentence under the title says what the page is for",
            page.display()
        );
        let name = page.file_name().and_then(|n| n.to_str()).expect("a name");
        assert!(
            readme.contains(&format!("](docs/{name})")),
            "the README links docs/{name}"
        );
    }
}

/// Every shell block of the deploy steps is marked for the rehearsal (`<!-- rehearse: plain
/// | named | both -->`, run by `infra/rehearse`) or says why not (`<!-- rehearse: no (…) -->`),
/// and the rehearsal runs at least one for each variant.
#[test]
fn every_deploy_command_is_rehearsed() {
    let readme = read(&root().join("README.md"));
    let deploy = readme
        .split("\n## ")
        .find(|s| s.starts_with("Deploy to AWS"))
        .expect("a Deploy to AWS section");
    let lines: Vec<&str> = deploy.lines().collect();
    let mut variants = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if line.trim_start() != "```sh" {
            continue;
        }
        let marker = lines[..n]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim())
            .unwrap_or_default();
        let which = marker
            .strip_prefix("<!-- rehearse: ")
            .and_then(|m| m.split([' ', '-']).next())
            .unwrap_or_else(|| panic!("a deploy block without a rehearse marker: {marker}"));
        assert!(
            ["plain", "named", "both"].contains(&which)
                || marker.starts_with("<!-- rehearse: no ("),
            "{marker}: plain, named, both, or no (why)"
        );
        variants.push(which.to_owned());
    }
    for needed in ["plain", "named"] {
        assert!(
            variants.iter().any(|v| v == needed || v == "both"),
            "no block rehearsed for {needed}: {variants:?}"
        );
    }
    let script = read(&root().join("infra/rehearse"));
    assert!(
        script.contains("<!-- rehearse: "),
        "the rehearsal reads the markers"
    );
}
