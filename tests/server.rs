//! The web server: shared status under load (in process, calls counted), and the page in a
//! real headless Chromium driven over WebDriver.

use crate::support::{artifacts, command, free_port};
use grafana_ondemand::api::{Access, Api};
use grafana_ondemand::mock::{SimulatedEcs, SimulatedProbe, Timing};
use grafana_ondemand::{Controller, ServiceProfile, SharedStatus, web};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_watchers_share_one_backend_read_per_interval() {
    let ecs = SimulatedEcs::new(Timing::fargate().scaled(0.01));
    let probe = Arc::new(SimulatedProbe::new(ecs.clone()));
    let controller = Controller::new(ecs.clone(), ServiceProfile::grafana(), probe);
    let ttl = Duration::from_millis(250);
    let api = Api::new(
        Arc::new(SharedStatus::new(controller, ttl)),
        Access::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/status", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, web::router(api)).await });

    let window = Duration::from_secs(2);
    let served = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::new();
    ecs.reset_calls();
    let begun = Instant::now();
    let watchers: Vec<_> = (0..32)
        .map(|_| {
            let (client, url, served) = (client.clone(), url.clone(), served.clone());
            tokio::spawn(async move {
                while begun.elapsed() < window {
                    let r = client.get(&url).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    let s: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(s["status"], "stopped");
                    served.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in watchers {
        w.await.unwrap();
    }
    let took = begun.elapsed();
    let served = served.load(Ordering::Relaxed);
    let reads = ecs.call_count("DescribeServices");
    println!(
        "shared status: {served} answers in {took:.2?} ({:.0}/s) from 32 watchers, {reads} backend reads ({:.1}/s)",
        served as f64 / took.as_secs_f64(),
        reads as f64 / took.as_secs_f64()
    );
    assert!(served > 100, "the watchers were served ({served})");
    let bound = (took.as_millis() / ttl.as_millis()) as u64 + 1;
    assert!(
        reads <= bound,
        "{reads} backend reads for {served} answers: at most one per {ttl:?} ({bound})"
    );
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let begun = Instant::now();
    while !f().await {
        assert!(begun.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server example on the simulated backend, a ChromeDriver, and a headless Chromium
/// session; dropped, the processes are killed. With a public name, Chromium reaches it
/// through the simulated network (the server's proxy resolves the name as its DNS would) and
/// trusts the run's CA as a user who installed it would, and nothing else: no certificate
/// error is ignored.
struct Bench {
    browser: fantoccini::Client,
    page: String,
    /// Connections the browser opened through the proxy (one tunnel each): to the name.
    connections: Arc<AtomicU64>,
    _server: tokio::process::Child,
    _driver: tokio::process::Child,
    profile: std::path::PathBuf,
}

impl Bench {
    async fn launch(env: &[(&str, &str)]) -> Bench {
        use fantoccini::ClientBuilder;
        let (driver_port, listen) = (free_port(), format!("127.0.0.1:{}", free_port()));
        // A profile and a home of its own: two Chromiums on one profile become one browser,
        // and the home holds the certificates it trusts (NSS's database in ~/.pki/nssdb).
        let profile = tempdir(driver_port);
        let home = profile.join("home");
        std::fs::create_dir_all(home.join(".pki/nssdb")).unwrap();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .env("HOME", &home)
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; .ci/install installs it)");
        let ca = profile.join("ca.pem");
        let proxy = format!("127.0.0.1:{}", free_port());
        let named = env.iter().any(|(k, _)| *k == "PUBLIC_NAME");
        let mut env = env.to_vec();
        if named {
            env.extend([
                ("SIMULATED_CA_FILE", ca.to_str().unwrap()),
                ("SIMULATED_PROXY_LISTEN", proxy.as_str()),
            ]);
        }
        let (server, page) = serve(&listen, &env).await;
        let webdriver = format!("http://127.0.0.1:{driver_port}");
        wait_until("chromedriver", Duration::from_secs(30), || async {
            reqwest::get(format!("{webdriver}/status")).await.is_ok()
        })
        .await;
        let mut browser_args = Vec::new();
        let connections = Arc::new(AtomicU64::new(0));
        if named {
            trust(&home, &ca);
            let relay = relay(proxy.parse().unwrap(), connections.clone()).await;
            browser_args.push(format!("--proxy-server=http://{relay}"));
        }
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-dev-shm-usage",
            // No crash handler: it leaves the process group, and would outlive the test.
            "--disable-breakpad",
            "--disable-crash-reporter",
            "--window-size=420,800",
        ]
        .map(String::from)
        .into();
        args.push(format!(
            "--user-data-dir={}",
            profile.join("chromium").display()
        ));
        args.extend(browser_args);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium(), "args": args }),
        );
        let browser = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .expect("a browser session");
        Bench {
            browser,
            page,
            connections,
            _server: server,
            _driver: driver,
            profile,
        }
    }

    /// The text of the element `id`; empty while the page is being replaced (the wake page
    /// reloads itself), when the element read a moment ago is gone.
    async fn text(&self, id: &str) -> String {
        self.read(fantoccini::Locator::Id(id)).await
    }

    /// The text of the page shown (empty while it is being replaced).
    async fn body(&self) -> String {
        self.read(fantoccini::Locator::Css("body")).await
    }

    async fn read(&self, locator: fantoccini::Locator<'_>) -> String {
        match self.browser.find(locator).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Where the page's "Open Grafana" link leads.
    async fn open_link(&self) -> String {
        self.browser
            .find(fantoccini::Locator::Id("open"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap()
    }

    /// Whether element `id` is on the page and shown now (false while it is not there).
    async fn shown_now(&self, id: &str) -> bool {
        match self.browser.find(fantoccini::Locator::Id(id)).await {
            Ok(e) => e.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    async fn shown(&self, id: &str) -> bool {
        self.browser
            .find(fantoccini::Locator::Id(id))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    }

    async fn click(&self, id: &str) {
        self.browser
            .wait()
            .for_element(fantoccini::Locator::Css(&format!("#{id}:not([hidden])")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// The status, asked of the server's API as the page asks it.
    async fn status(&self) -> serde_json::Value {
        reqwest::Client::new()
            .post(&self.page)
            .json(&serde_json::json!({"action": "status"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The page's address now.
    /// Opens `link` at the sleeping name and waits for the wake page. The first status puts
    /// the name to sleep (the module's Terraform makes the alias on AWS); Route 53 serves it
    /// within 1.5 s at `SIMULATED_TIME_SCALE=0.05`.
    async fn open_asleep(&self, link: &str) {
        assert_eq!(self.status().await["status"], "stopped");
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.browser.goto(link).await.unwrap();
        wait_until("the wake page", Duration::from_secs(10), || async {
            self.text("title").await == "Grafana is asleep"
        })
        .await;
    }

    async fn url(&self) -> reqwest::Url {
        let url = self.browser.current_url().await.unwrap();
        reqwest::Url::parse(url.as_str()).unwrap()
    }

    async fn wait_for_state(&self, state: &str, limit: Duration) {
        wait_until(state, limit, || async {
            self.text("state").await.to_lowercase() == state
        })
        .await;
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_starts_opens_and_stops_grafana_in_a_real_browser() {
    use fantoccini::Locator;

    let bench = Bench::launch(&[("SIMULATED_TIME_SCALE", "0.05")]).await;
    let (browser, page) = (bench.browser.clone(), bench.page.clone());
    browser.goto(&page).await.unwrap();
    let notice = browser
        .wait()
        .for_element(Locator::Id("notice"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notice.contains("Simulated backend"), "{notice}");
    let start = browser
        .wait()
        .for_element(Locator::Css("#start:not([hidden])"))
        .await
        .unwrap();
    assert_eq!(bench.text("state").await.to_lowercase(), "stopped");
    start.click().await.unwrap();
    bench
        .wait_for_state("starting", Duration::from_secs(10))
        .await;
    // One bar across the steps of a start, not the phase said again in sentences.
    assert!(bench.shown("progress").await);
    let steps = bench.text("progress").await;
    assert!(
        steps.contains("Placing") && steps.contains("Answering"),
        "{steps}"
    );
    assert!(!bench.text("detail").await.contains("PROVISIONING"));

    wait_until("the Open Grafana link", Duration::from_secs(30), || {
        bench.shown("open")
    })
    .await;
    assert_eq!(bench.text("state").await.to_lowercase(), "running");
    // How long the start took, phase by phase, as the status's timings say it.
    wait_until("the start's timings", Duration::from_secs(10), || {
        bench.shown("timed")
    })
    .await;
    let timed = bench.text("timed").await;
    let said = bench.status().await["timings"]["summary"]
        .as_str()
        .map(str::to_owned)
        .expect("the status's timings");
    assert_eq!(timed, format!("Started: {said}."));
    assert!(
        said.starts_with("ready in ") && said.contains(" s pulling"),
        "{said}"
    );
    let href = bench.open_link().await;
    assert!(href.starts_with("http://127.0.0."), "{href}");
    let shot = artifacts().join("browser-running.png");
    std::fs::write(&shot, browser.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", shot.display());

    browser
        .find(Locator::Id("stop"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    bench
        .wait_for_state("stopped", Duration::from_secs(30))
        .await;
    assert!(!bench.shown("open").await);

    browser.goto(&href).await.unwrap();
    let body = bench.body().await;
    assert!(
        body.contains("stands in for Grafana"),
        "the link opened the stand-in: {body}"
    );

    browser.close().await.unwrap();
}

/// Left alone after a start, Grafana stops by itself and the page says why; the countdown
/// shows when, and the keep button moves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_stops_by_itself_and_the_page_says_why_and_when() {
    // Twenty times faster: a 2 min grace takes 6 s, an hour's keep 3 min.
    let bench = Bench::launch(&[
        ("SIMULATED_TIME_SCALE", "0.05"),
        ("STARTUP_GRACE", "2m"),
        ("IDLE_TIMEOUT", "2m"),
        ("REAP_INTERVAL", "20s"),
    ])
    .await;
    bench.browser.goto(&bench.page).await.unwrap();
    bench.click("start").await;
    bench
        .wait_for_state("running", Duration::from_secs(30))
        .await;
    assert!(bench.shown("session").await);
    let stops = bench.text("stops").await;
    assert!(
        stops.starts_with("Stops at ") && stops.contains("unless used (in "),
        "{stops}"
    );
    let cost = bench.text("cost").await;
    assert!(
        cost.starts_with("This session: ") && cost.contains("/h)"),
        "{cost}"
    );
    let shot = artifacts().join("browser-countdown.png");
    std::fs::write(&shot, bench.browser.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", shot.display());

    // Nobody opens it: the reaper stops it at the end of the grace, and the page says so.
    bench
        .wait_for_state("stopped", Duration::from_secs(40))
        .await;
    let why = bench.text("detail").await;
    assert!(
        why.contains("nobody used it within 6 s of its start"),
        "{why}"
    );
    assert!(!bench.shown("keep").await);

    // Started again, then kept: the stop moves an hour (3 min here) later.
    bench.click("start").await;
    bench
        .wait_for_state("running", Duration::from_secs(30))
        .await;
    let stops_at = |b: fantoccini::Client| async move {
        let at = b
            .find(fantoccini::Locator::Id("stops"))
            .await
            .unwrap()
            .attr("data-stops-at")
            .await
            .unwrap()
            .unwrap_or_default();
        chrono::DateTime::parse_from_rfc3339(&at).ok()
    };
    let before = stops_at(bench.browser.clone()).await.expect("a stop time");
    bench.click("keep").await;
    let begun = Instant::now();
    let after = loop {
        if let Some(t) = stops_at(bench.browser.clone())
            .await
            .filter(|t| *t > before)
        {
            break t;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(10),
            "the stop never moved"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let moved = after - before;
    assert!(
        moved.num_seconds() >= 170,
        "kept an hour (3 min at this speed) past the grace: moved {moved}"
    );
    bench.click("stop").await;
    bench
        .wait_for_state("stopped", Duration::from_secs(30))
        .await;
    assert!(bench.text("detail").await.contains("stopped on request"));
    bench.browser.clone().close().await.unwrap();
}

/// The server example on `listen` with `env`, once it answers; and its page's URL.
/// A relay in front of the server's proxy that counts the tunnels a browser opens through
/// it to a `*.test` name (each one TLS connection to the front door); the browser's other
/// connections (its own services) pass uncounted.
async fn relay(to: std::net::SocketAddr, count: Arc<AtomicU64>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut browser, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 1024];
                let Ok(n) = browser.read(&mut head).await else {
                    return;
                };
                head.truncate(n);
                let line = String::from_utf8_lossy(&head);
                if line.starts_with("CONNECT ") && line.contains(".test:443 ") {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                if let Ok(mut proxy) = tokio::net::TcpStream::connect(to).await
                    && proxy.write_all(&head).await.is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut browser, &mut proxy).await;
                }
            });
        }
    });
    addr
}

async fn serve(listen: &str, env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let mut server = tokio::process::Command::from(command("server"));
    server
        .env("LISTEN", listen)
        .env("SERVICE_PORT", free_port().to_string());
    for (key, value) in env {
        server.env(key, value);
    }
    let out = match std::env::var("SERVER_LOG") {
        Ok(path) => std::process::Stdio::from(std::fs::File::create(path).unwrap()),
        Err(_) => std::process::Stdio::null(),
    };
    let server = server
        .stdout(out)
        .kill_on_drop(true)
        .spawn()
        .expect("server starts");
    let page = format!("http://{listen}/");
    wait_until("the server", Duration::from_secs(30), || async {
        reqwest::get(&page).await.is_ok()
    })
    .await;
    (server, page)
}

/// Adds the run's CA to the NSS database of `home` as trusted for servers: what Chromium on
/// Linux trusts besides its own roots.
fn trust(home: &std::path::Path, ca: &std::path::Path) {
    let db = format!("sql:{}", home.join(".pki/nssdb").display());
    for args in [
        vec!["-N", "-d", &db, "--empty-password"],
        vec![
            "-A",
            "-d",
            &db,
            "-t",
            "C,,",
            "-n",
            "grafana-ondemand test CA",
            "-i",
            ca.to_str().unwrap(),
        ],
    ] {
        let status = std::process::Command::new("certutil")
            .args(&args)
            .status()
            .expect("certutil (Debian package libnss3-tools; .ci/install installs it)");
        assert!(status.success(), "certutil {args:?}");
    }
}

/// Chromium as installed: Debian's `chromium`, Ubuntu's `chromium-browser`, or `CHROMIUM`.
fn chromium() -> String {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
        .map(|found| found.display().to_string())
        .expect("Chromium (Debian package chromium; .ci/install installs it), or CHROMIUM=path")
}

fn tempdir(port: u16) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "grafana-ondemand-chromium-{}-{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// With a public name, the page offers `https://<name>` and a browser opens Grafana there over
/// TLS: the simulated task's stand-in serves a certificate for the name, from a CA of this run
/// that the server's probe trusts (`READINESS=http`: the probe's https path decides) and that
/// Chromium trusts as a user who installed it would; the name is resolved by the simulated
/// network, as Route 53 serves it. The same certificate at the task's bare address is refused:
/// Chromium checks the name, nothing is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_opens_grafana_over_https_on_its_name() {
    const NAME: &str = "grafana.example.test";
    let bench = Bench::launch(&[
        ("SIMULATED_TIME_SCALE", "0.05"),
        ("PUBLIC_NAME", NAME),
        ("DNS_ZONE_ID", "Z0DEMO"),
        ("READINESS", "http"),
    ])
    .await;
    bench.browser.goto(&bench.page).await.unwrap();
    bench.click("start").await;
    bench
        .wait_for_state("running", Duration::from_secs(30))
        .await;
    let href = bench.open_link().await;
    assert_eq!(href, format!("https://{NAME}"), "the door's URL, on 443");
    let status = bench.status().await;
    assert_eq!(status["readyBy"], "http", "{status}");
    // Opened at once, the entry may not have reached the edge yet (the wake page shows): it
    // sends the browser on by itself.
    bench.browser.goto(&href).await.unwrap();
    wait_until("Grafana at its name", Duration::from_secs(30), || async {
        bench.body().await.contains("stands in for Grafana")
    })
    .await;
    let url = bench.url().await;
    assert_eq!((url.scheme(), url.host_str()), ("https", Some(NAME)));
    // The task's own address, with the certificate of the name: refused.
    let ip = status["ip"].as_str().unwrap();
    let port = status["port"].as_u64().unwrap();
    bench
        .browser
        .goto(&format!("https://{ip}:{port}/"))
        .await
        .ok();
    let refused = bench.body().await;
    assert!(
        !refused.contains("stands in for Grafana"),
        "a certificate for {NAME} was accepted at {ip}: {refused}"
    );
    bench.browser.clone().close().await.unwrap();
}

/// The whole point of the wake page, in a real browser: a dashboard link opened while Grafana
/// sleeps shows the wake page (at the name itself: the front door sends a person's navigation
/// to the controller while its entry says asleep), starts nothing by itself, wakes Grafana at
/// one click, and lands on the dashboard asked for, path and query kept, once the entry has
/// reached the edge: all over the one connection the browser opened to the name, which it
/// keeps (nothing depends on the browser noticing a change of address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_link_wakes_grafana_at_a_click_and_lands_on_the_dashboard() {
    const LINK: &str = "https://grafana.example.test/d/abc?x=1";
    const SCALE: &str = "0.05";
    let bench = Bench::launch(&[
        ("SIMULATED_TIME_SCALE", SCALE),
        ("PUBLIC_NAME", "grafana.example.test"),
        ("DNS_ZONE_ID", "Z0DEMO"),
    ])
    .await;
    let status = || async { bench.status().await["status"].as_str().unwrap().to_owned() };
    bench.open_asleep(LINK).await;
    assert_eq!(bench.text("start").await, "Wake it");
    assert!(
        bench
            .text("rules")
            .await
            .contains("after a start nobody used"),
        "{}",
        bench.text("rules").await
    );
    assert!(!bench.shown("stop").await && !bench.shown("open").await);
    let shot = artifacts().join("browser-wake-page.png");
    std::fs::write(&shot, bench.browser.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", shot.display());
    // Opening the link started nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status().await, "stopped", "a navigation never starts it");

    let opened = bench.connections.load(Ordering::SeqCst);
    bench.click("start").await;
    let clicked = Instant::now();
    wait_until("the bar", Duration::from_secs(10), || {
        bench.shown("progress")
    })
    .await;
    wait_until(
        "Grafana's page at the link",
        Duration::from_secs(60),
        || async { bench.body().await.contains("stands in for Grafana") },
    )
    .await;
    let took = clicked.elapsed();
    let url = bench.url().await;
    assert_eq!(
        url.as_str(),
        LINK,
        "the dashboard asked for, path and query kept"
    );
    assert!(
        bench.body().await.contains("Asked for: /d/abc?x=1"),
        "{}",
        bench.body().await
    );
    assert_eq!(
        bench.connections.load(Ordering::SeqCst),
        opened,
        "after the click, the polls, the probes and Grafana's page came over the connection(s) the wake page was loaded on: none opened since"
    );
    println!("connections to the name: {opened}, none opened after the click");
    println!(
        "wake: from the click to Grafana's page at {LINK}: {:.1} s at SIMULATED_TIME_SCALE={SCALE} (the page polls every 2 s of real time)",
        took.as_secs_f64(),
    );
    assert_eq!(status().await, "running");
    // Stopped, the same link leads back to the wake page, through the same door: the entry
    // says asleep once it reaches the edge, and the navigation goes to API Gateway's $default
    // route and the controller again.
    let stopped: serde_json::Value = reqwest::Client::new()
        .post(&bench.page)
        .json(&serde_json::json!({"action": "stop", "wait": 25}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stopped["status"], "stopped", "{stopped}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    bench.browser.goto(LINK).await.unwrap();
    wait_until("the wake page again", Duration::from_secs(10), || async {
        bench.text("title").await == "Grafana is asleep"
    })
    .await;
    bench.browser.clone().close().await.unwrap();
}

/// Grafana's own ways through the door: its login sets a session cookie and redirects, and the
/// browser follows it without leaving the name (Grafana builds redirects from `root_url`, the
/// door's URL); Grafana Live's WebSocket opens through the door and echoes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_logs_in_through_the_door_and_grafana_live_connects() {
    const NAME: &str = "grafana.example.test";
    let bench = Bench::launch(&[
        ("SIMULATED_TIME_SCALE", "0.05"),
        ("PUBLIC_NAME", NAME),
        ("SIMULATED_PROPAGATION_S", "0"),
    ])
    .await;
    bench.open_asleep(&format!("https://{NAME}/login")).await;
    bench.click("start").await;
    wait_until("Grafana's login form", Duration::from_secs(60), || async {
        bench.shown_now("submit").await
    })
    .await;
    bench.click("submit").await;
    wait_until("signed in", Duration::from_secs(10), || async {
        bench.text("session").await.contains("Signed in as admin")
    })
    .await;
    let url = bench.url().await;
    assert_eq!(
        url.as_str(),
        format!("https://{NAME}/?orgId=1"),
        "followed the redirect, at the door"
    );
    let echoed = bench
        .browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const ws = new WebSocket("wss://" + location.host + "/api/live/ws");
               ws.onopen = () => ws.send("ping");
               ws.onmessage = (m) => { done(m.data); ws.close(); };
               ws.onerror = () => done("error");"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        echoed,
        serde_json::json!("live: ping"),
        "the WebSocket passes through the door"
    );
    bench.browser.clone().close().await.unwrap();
}

/// At the name with an access token, the wake page asks for it once and the controller keeps
/// it in an `HttpOnly` cookie sent only to `/_ondemand`: the wake works at the next click, and
/// nothing a script at Grafana's origin can read (its localStorage, `document.cookie`) holds
/// the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wake_pages_token_is_kept_where_grafanas_scripts_cannot_read_it() {
    const TOKEN: &str = "a-long-enough-api-token-0123456789";
    let bench = Bench::launch(&[
        ("SIMULATED_TIME_SCALE", "0.05"),
        ("PUBLIC_NAME", "grafana.example.test"),
        ("DNS_ZONE_ID", "Z0DEMO"),
        ("ACCESS_TOKEN", TOKEN),
    ])
    .await;
    let status = || async { bench.status().await["status"].as_str().unwrap().to_owned() };
    bench
        .open_asleep("https://grafana.example.test/d/abc")
        .await;
    bench.click("start").await;
    wait_until("the token's form", Duration::from_secs(10), || {
        bench.shown("auth")
    })
    .await;
    assert_eq!(status().await, "stopped", "no start without the token");
    bench
        .browser
        .find(fantoccini::Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    bench
        .browser
        .find(fantoccini::Locator::Css("#auth button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until("the form gone", Duration::from_secs(10), || async {
        !bench.shown("auth").await
    })
    .await;
    bench.click("start").await;
    wait_until("the start", Duration::from_secs(10), || async {
        status().await != "stopped"
    })
    .await;
    let seen = bench
        .browser
        .execute(
            "return JSON.stringify([Object.assign({}, localStorage), document.cookie]);",
            vec![],
        )
        .await
        .unwrap();
    let seen = seen.as_str().unwrap_or_default().to_owned();
    assert!(
        !seen.contains(TOKEN),
        "a script at Grafana's origin reads the token: {seen}"
    );
    bench.browser.clone().close().await.unwrap();
}

/// With `API_AUTH=iam` only signed requests act, which a browser cannot send: the wake page
/// shows no button that could only fail, and says how to wake it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_iam_the_wake_page_says_how_to_wake_it_and_shows_no_button() {
    let api = format!("127.0.0.1:{}", free_port());
    let bench = Bench::launch(&[
        ("SIMULATED_TIME_SCALE", "0.05"),
        ("PUBLIC_NAME", "grafana.example.test"),
        ("DNS_ZONE_ID", "Z0DEMO"),
        ("API_AUTH", "iam"),
        ("SIMULATED_API_LISTEN", &api),
    ])
    .await;
    // The contract's own routes, on the API's own domain, still refuse an unsigned request:
    // API Gateway answers it itself (the module's iam variant: AWS_IAM on /grafana).
    let unsigned = reqwest::Client::new()
        .post(format!("http://{api}/grafana"))
        .json(&serde_json::json!({"action": "start"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(
        unsigned.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"message": "Forbidden"})
    );
    assert_eq!(bench.status().await["status"], "stopped", "nothing started");
    bench
        .open_asleep("https://grafana.example.test/d/abc")
        .await;
    wait_until("what to do", Duration::from_secs(10), || async {
        bench.text("message").await.contains("AWS credentials")
    })
    .await;
    assert!(!bench.shown("start").await, "a button that could only fail");
    bench.browser.clone().close().await.unwrap();
}

/// A client that sends its headers or its body a trickle at a time cannot hold the server's
/// connections: headers not whole within 10 s close the connection, a body not whole within
/// 10 s is answered 408; meanwhile other clients are served at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listen = format!("127.0.0.1:{}", free_port());
    let (_server, page) = serve(&listen, &[]).await;
    let began = std::time::Instant::now();
    let mut headers = tokio::net::TcpStream::connect(&listen).await.unwrap();
    headers
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut body = tokio::net::TcpStream::connect(&listen).await.unwrap();
    body.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"action\":",
    )
    .await
    .unwrap();
    // Others are served meanwhile.
    let status = reqwest::Client::new()
        .post(&page)
        .json(&serde_json::json!({"action": "status"}))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    assert!(began.elapsed() < Duration::from_secs(5));
    let read_all = |mut s: tokio::net::TcpStream| async move {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    let (cut, timed_out) = tokio::join!(read_all(headers), read_all(body));
    let took = began.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(25),
        "closed after {took:?}"
    );
    assert!(
        !cut.contains("200 OK"),
        "the headers never came whole: {cut}"
    );
    assert!(timed_out.starts_with("HTTP/1.1 408"), "{timed_out}");
    assert!(
        timed_out.contains("did not arrive within 10 s"),
        "{timed_out}"
    );
}
