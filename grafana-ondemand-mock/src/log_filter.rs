//! The part of CloudWatch Logs' filter pattern syntax that request logs need, so the
//! simulated FilterLogEvents filters as AWS does: terms (`word` or `"a phrase"`) that must
//! all appear, `-term` that must not, `?term` of which one must. Case-sensitive, as AWS.

/// One term of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Must(String),
    MustNot(String),
    Any(String),
}

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter(Vec<Term>);

impl LogFilter {
    /// Parses a pattern; JSON (`{ ... }`) and space-delimited (`[ ... ]`) patterns are not
    /// simulated and are refused, naming what is supported.
    pub fn parse(pattern: &str) -> Result<LogFilter, String> {
        let p = pattern.trim();
        if p.starts_with('{') || p.starts_with('[') {
            return Err(format!(
                "the simulated CloudWatch Logs supports text patterns only (terms, \"phrases\", -excluded, ?optional), not `{p}`"
            ));
        }
        let mut terms = Vec::new();
        let mut chars = p.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            let sign = match c {
                '-' | '?' => {
                    chars.next();
                    Some(c)
                }
                _ => None,
            };
            let mut text = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(ch) => text.push(ch),
                        None => return Err(format!("unclosed quote in filter pattern `{p}`")),
                    }
                }
            } else {
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() {
                        break;
                    }
                    text.push(ch);
                    chars.next();
                }
            }
            if text.is_empty() {
                return Err(format!("empty term in filter pattern `{p}`"));
            }
            terms.push(match sign {
                Some('-') => Term::MustNot(text),
                Some(_) => Term::Any(text),
                None => Term::Must(text),
            });
        }
        Ok(LogFilter(terms))
    }

    /// Whether a log line matches (an empty pattern matches every line).
    pub fn matches(&self, line: &str) -> bool {
        let mut any_seen = false;
        let mut any_found = false;
        for term in &self.0 {
            match term {
                Term::Must(t) if !line.contains(t.as_str()) => return false,
                Term::MustNot(t) if line.contains(t.as_str()) => return false,
                Term::Any(t) => {
                    any_seen = true;
                    any_found |= line.contains(t.as_str());
                }
                _ => {}
            }
        }
        !any_seen || any_found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grafana_filter_keeps_use_and_drops_background() {
        let f = LogFilter::parse(grafana_ondemand_core::GRAFANA_ACTIVITY_FILTER).unwrap();
        let line = |path: &str| {
            format!(
                "logger=context userId=1 orgId=1 uname=admin t=2026-11-26T10:00:00Z level=info msg=\"Request Completed\" method=GET path={path} status=200"
            )
        };
        assert!(f.matches(&line("/d/abc/home")));
        assert!(f.matches(&line("/api/dashboards/uid/abc")));
        for background in [
            "/api/health",
            "/metrics",
            "/public/build/app.js",
            "/api/live/ws",
            "/api/frontend-metrics",
        ] {
            assert!(!f.matches(&line(background)), "{background}");
        }
        assert!(!f.matches("logger=http.server msg=\"HTTP Server Listen\""));
    }

    #[test]
    fn optional_terms_need_one_and_bad_patterns_are_refused() {
        let f = LogFilter::parse("?GET ?POST").unwrap();
        assert!(f.matches("POST /x") && !f.matches("PUT /x"));
        assert!(
            LogFilter::parse("{ $.path = \"/x\" }")
                .unwrap_err()
                .contains("text patterns only")
        );
        assert!(LogFilter::parse("\"open").is_err());
        assert!(LogFilter::parse("").unwrap().matches("anything"));
    }
}
