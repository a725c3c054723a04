//! The dispatcher console in headless Chromium, driven through chromedriver: sign in, fill an
//! intake and see the priority the server computes before saving, create the work order,
//! assign the top suggested technician, and watch the board change by itself when that
//! technician's device accepts the job and syncs; then the board's filters hide and show it.
//! Saves screenshots of the intake and the board.
//!
//! Needs `FIELDSYNC_TEST_CHROMEDRIVER` (path of chromedriver; Debian: `chromium-driver`).
//! Without it the test prints `skipped: …` and passes, unless `FIELDSYNC_REQUIRE_BROWSER=1`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use fieldsync_proto::{priority, Action, CustomerTier, Impact, Status, Urgency, WorkOrderId};
use fieldsync_tests::{TestServer, PASSWORD};
use hyper_util::client::legacy::connect::HttpConnector;
use tempfile::TempDir;

/// How long any one thing may take to appear on the page.
const PATIENCE: Duration = Duration::from_secs(30);

/// Chromium's flags: headless, and nothing that reaches out to the network by itself.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1366,900",
];

fn chromedriver_path() -> Option<PathBuf> {
    match std::env::var_os("FIELDSYNC_TEST_CHROMEDRIVER") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            let required = std::env::var("FIELDSYNC_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "FIELDSYNC_REQUIRE_BROWSER=1 but FIELDSYNC_TEST_CHROMEDRIVER is not set; \
                 install chromium and chromium-driver and point it at /usr/bin/chromedriver"
            );
            println!(
                "skipped: set FIELDSYNC_TEST_CHROMEDRIVER=/usr/bin/chromedriver \
                 (Debian packages chromium and chromium-driver) to run the console browser test"
            );
            None
        }
    }
}

/// A chromedriver process on a free loopback port, stopped when dropped.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start(path: &Path, log: &Path) -> Chromedriver {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log_file = std::fs::File::create(log).expect("chromedriver log");
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        Chromedriver { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until chromedriver answers `/status` as ready.
    async fn ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            let answer = reqwest::get(format!("{}/status", self.url())).await;
            if let Ok(resp) = answer {
                if let Ok(body) = resp.json::<serde_json::Value>().await {
                    if body["value"]["ready"] == true {
                        return;
                    }
                }
            }
            assert!(
                started.elapsed() < PATIENCE,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Chromedriver, profile: &Path) -> Client {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut options = serde_json::json!({ "args": args });
    let binary =
        std::env::var("FIELDSYNC_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if Path::new(&binary).exists() {
        options["binary"] = binary.into();
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .expect("a browser session")
}

/// Where screenshots go: the workspace's target directory (or `CARGO_TARGET_DIR`).
fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::create_dir_all(&dir).expect("target directory");
    dir
}

async fn save_screenshot(page: &Client, name: &str) -> PathBuf {
    let png = page.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).expect("screenshot written");
    println!("screenshot: {}", path.display());
    path
}

async fn find(page: &Client, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    page.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| anyhow::anyhow!("'{css}' did not appear: {e}"))
}

async fn fill(page: &Client, name: &str, text: &str) -> anyhow::Result<()> {
    let input = find(page, &format!("[name=\"{name}\"]")).await?;
    input.clear().await?;
    input.send_keys(text).await?;
    Ok(())
}

async fn choose(page: &Client, name: &str, value: &str) -> anyhow::Result<()> {
    find(page, &format!("select[name=\"{name}\"]"))
        .await?
        .select_by_value(value)
        .await
        .map_err(|e| anyhow::anyhow!("choose {value} in {name}: {e}"))
}

/// Polls `read` until it gives `want`, for at most `PATIENCE`; the page is never reloaded.
async fn wait_for<F, Fut>(what: &str, want: &str, mut read: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < PATIENCE {
        last = read().await;
        if last.as_deref() == Some(want) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{what}: waited for '{want}', last saw {last:?}")
}

async fn attr_of(page: &Client, css: &str, name: &str) -> Option<String> {
    let el = page.find(Locator::Css(css)).await.ok()?;
    el.attr(name).await.ok().flatten()
}

/// How many elements match `css`, as text, for `wait_for`.
async fn rows_matching(page: &Client, css: &str) -> Option<String> {
    let rows = page.find_all(Locator::Css(css)).await.ok()?;
    Some(rows.len().to_string())
}

async fn text_of(page: &Client, css: &str) -> Option<String> {
    let el = page.find(Locator::Css(css)).await.ok()?;
    el.text().await.ok().map(|t| t.trim().to_owned())
}

/// Like `assert_eq!`, but returns the failure, so that the page is photographed first.
macro_rules! expect_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {
        match (&$left, &$right) {
            (left, right) => anyhow::ensure!(
                left == right,
                "{}: {:?} is not {:?}",
                format!($($msg)+),
                left,
                right
            ),
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_creates_assigns_and_watches_the_board_live() {
    let Some(chromedriver) = chromedriver_path() else {
        return;
    };
    let server = TestServer::start().await;
    let api_token = server.token("dispatch").await;
    let work = TempDir::new().expect("temp dir");
    let profile = work.path().join("profile");
    let mut driver = Chromedriver::start(&chromedriver, &work.path().join("chromedriver.log"));
    driver.ready().await;
    let page = browser(&driver, &profile).await;
    let outcome = run(&server, &api_token, &page).await;
    if outcome.is_err() {
        // What the page looked like when it went wrong, and what the browser said.
        let _ = save_screenshot(&page, "console-failure.png").await;
        if let Ok(log) = std::fs::read_to_string(work.path().join("chromedriver.log")) {
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!(
                "chromedriver log (last lines, newest first):\n{}",
                tail.join("\n")
            );
        }
    }
    page.close().await.expect("browser closes");
    if let Err(e) = outcome {
        panic!("console scenario: {e:#}");
    }
}

async fn run(server: &TestServer, api_token: &str, page: &Client) -> anyhow::Result<()> {
    page.goto(&format!("{}/", server.url())).await?;

    // Sign in.
    fill(page, "username", "dispatch").await?;
    fill(page, "password", PASSWORD).await?;
    find(page, "form.login button[type=submit]")
        .await?
        .click()
        .await?;
    find(page, "table.board").await?;
    wait_for("live indicator", "live", || {
        attr_of(page, "#live-state", "data-state")
    })
    .await?;

    // Intake: a VIP customer's emergency on one site.
    find(page, "a[data-nav=new]").await?.click().await?;
    find(page, "#intake-form").await?;
    fill(
        page,
        "description",
        "Walk-in freezer alarm: -4 °C and rising, stock at risk.",
    )
    .await?;
    fill(page, "customer.name", "Nordhafen Hotel").await?;
    choose(page, "customer.tier", "vip").await?;
    fill(page, "customer.contact.name", "Lea Brandt").await?;
    fill(page, "customer.contact.phone", "+49 40 555 0101").await?;
    fill(page, "customer.site.address", "Kehrwieder 4, Hamburg").await?;
    fill(page, "customer.site.region", "north").await?;
    fill(page, "customer.site.latitude", "53.5430").await?;
    fill(page, "customer.site.longitude", "9.9860").await?;
    fill(page, "asset.model", "ColdRoom CR-40").await?;
    fill(page, "asset.serial", "CR40-22817").await?;
    choose(page, "urgency", "emergency").await?;
    choose(page, "impact", "one_site").await?;

    // The server's rule decides; the page must show exactly what it computes, before saving.
    let expected = priority(Urgency::Emergency, Impact::OneSite, CustomerTier::Vip).to_string();
    wait_for("priority shown before saving", &expected, || {
        text_of(page, "#preview-priority")
    })
    .await?;
    let response = text_of(page, "#preview-response").await.unwrap_or_default();
    anyhow::ensure!(
        response.starts_with("within "),
        "response target shown: {response}"
    );
    let (_, before) = server.get(api_token, "/v1/work-orders").await;
    expect_eq!(before["total"], 0, "the preview saved nothing");
    save_screenshot(page, "console-intake.png").await;

    // Save: the detail page of the new work order opens.
    find(page, "#intake-save").await?.click().await?;
    let number = find(page, "#wo-number").await?.text().await?;
    let id: WorkOrderId = {
        let url = page.current_url().await?;
        let fragment = url.fragment().unwrap_or_default().to_owned();
        let id = fragment
            .strip_prefix("/wo/")
            .ok_or_else(|| anyhow::anyhow!("detail page expected, at #{fragment}"))?;
        id.parse()
            .map_err(|e| anyhow::anyhow!("id in the address: {e}"))?
    };
    let (status, created) = server
        .get(api_token, &format!("/v1/work-orders/{id}"))
        .await;
    expect_eq!(status, 200, "work order readable");
    expect_eq!(created["number"], number.as_str(), "number on the page");
    expect_eq!(
        created["priority"],
        expected.as_str(),
        "saved with the previewed priority"
    );
    expect_eq!(
        created["customer"]["name"],
        "Nordhafen Hotel",
        "customer saved"
    );
    expect_eq!(
        text_of(page, "#wo-priority").await.as_deref(),
        Some(expected.as_str()),
        "priority on the detail page"
    );

    // Assign the top suggestion: it is the API's rank 1.
    let top = find(page, "#suggestions li:first-child").await?;
    let shown_top = top
        .attr("data-technician")
        .await?
        .ok_or_else(|| anyhow::anyhow!("suggestion without technician"))?;
    let (status, ranked) = server
        .get(
            api_token,
            &format!("/v1/work-orders/{id}/suggestions?limit=5"),
        )
        .await;
    expect_eq!(status, 200, "{ranked}");
    expect_eq!(
        ranked["suggestions"][0]["technician_id"],
        shown_top.as_str(),
        "the first suggestion on the page is the API's rank 1"
    );
    let reasons = top.find_all(Locator::Css("ul li")).await?;
    anyhow::ensure!(!reasons.is_empty(), "the top suggestion says why");
    top.find(Locator::Css("button")).await?.click().await?;
    let technician = if shown_top == server.tech_a.to_string() {
        "tech-a"
    } else {
        expect_eq!(shown_top, server.tech_b.to_string(), "a harness technician");
        "tech-b"
    };
    wait_for("assigned on the page", "assigned", || {
        attr_of(page, "#wo-status", "data-status")
    })
    .await?;
    let (_, assigned) = server
        .get(api_token, &format!("/v1/work-orders/{id}"))
        .await;
    expect_eq!(assigned["assignee"], shown_top.as_str(), "assignee saved");

    // The board, marked so that a reload would be noticed.
    find(page, "a[data-nav=board]").await?.click().await?;
    let row = format!("tr[data-number=\"{number}\"]");
    wait_for("row on the board", "assigned", || {
        attr_of(page, &row, "data-status")
    })
    .await?;
    page.execute(
        "window.fieldsyncNoReload = 'still here'; return null;",
        vec![],
    )
    .await?;

    // The technician's tablet accepts the job and syncs; the board follows by itself.
    let tablet = server.device(technician).await;
    tablet.client.sync().await?;
    tablet.client.act(id, Action::Accept)?;
    tablet.client.sync().await?;
    let accepted = Status::Accepted.to_string();
    wait_for("live status on the board", &accepted, || {
        attr_of(page, &row, "data-status")
    })
    .await?;
    expect_eq!(
        text_of(page, &format!("{row} [data-role=status]"))
            .await
            .as_deref(),
        Some("Accepted"),
        "status label on the board"
    );
    let marker = page
        .execute("return window.fieldsyncNoReload || null;", vec![])
        .await?;
    expect_eq!(marker, "still here", "the board updated without a reload");
    let sla = attr_of(page, &format!("{row} .sla"), "data-state").await;
    anyhow::ensure!(sla.is_some(), "the row shows an SLA state");

    // Filters go to the server: another priority hides the job, its own shows it again.
    let other = if expected == "P4" { "P3" } else { "P4" };
    choose(page, "priority", other).await?;
    wait_for("row hidden by the priority filter", "0", || {
        rows_matching(page, &row)
    })
    .await?;
    choose(page, "priority", &expected).await?;
    choose(page, "tier", "vip").await?;
    wait_for("row shown by its own priority and tier", "1", || {
        rows_matching(page, &row)
    })
    .await?;
    save_screenshot(page, "console-board.png").await;
    Ok(())
}
