//! The example app in a real browser: Debian's `chromium`, driven through
//! `chromedriver` with the `fantoccini` WebDriver client, against the real
//! `inventory` binary on loopback. What is checked here depends on what
//! browsers send (`Sec-Fetch-Site`, `Origin`, `SameSite` cookies, the back
//! button's cache), which no HTTP client reproduces.
//!
//! Without `chromium` and `chromedriver` the suite says so and passes, so
//! that `cargo test --workspace` runs on a machine without them; with
//! `PERMIT_BROWSER_TESTS=require` (as `.ci/run` sets) their absence fails.
//! Screenshots of the pages go to `target/browser-screenshots/`.

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use common::{Client as Http, Database, PASSWORD, Server};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The item every scenario aims at (the demo's first one).
const ITEM: &str = "Hex bolt M8";

/// The browser and its driver, or why the suite is skipped.
fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var_os("CHROME_BIN").map_or(CHROMIUM.into(), PathBuf::from);
    let driver = std::env::var_os("CHROMEDRIVER").map_or(CHROMEDRIVER.into(), PathBuf::from);
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    let message = format!(
        "browser suite skipped: {} or {} is missing (apt-get install chromium chromium-driver)",
        chromium.display(),
        driver.display()
    );
    assert!(
        std::env::var("PERMIT_BROWSER_TESTS").as_deref() != Ok("require"),
        "{message}, and PERMIT_BROWSER_TESTS=require"
    );
    // Straight to stderr, past the test harness's capture, once.
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(std::io::stderr(), "{message}");
    });
    None
}

/// A chromedriver of this test's own on a free loopback port; each
/// `session` is a separate browser with a fresh profile.
struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Driver {
    fn start() -> Option<Self> {
        let (chromium, driver) = browser_paths()?;
        let port = free_port(Ipv4Addr::LOCALHOST);
        // A process group of its own: the browsers it starts are in it, so
        // that dropping the driver ends them too, even when a test failed
        // before closing its sessions.
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        })
    }

    /// A new browser: headless, no network of its own (the machine has
    /// none), no password manager.
    async fn session(&self) -> Client {
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-features=PasswordLeakDetection",
            "--window-size=1000,800",
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": self.chromium,
                "args": args,
                "prefs": {
                    "credentials_enable_service": false,
                    "profile.password_manager_enabled": false,
                },
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every browser it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port(ip: Ipv4Addr) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs one scenario: a chromedriver, the real server with the demo data
/// on a fresh SQLite file, and the scenario's async body.
fn scenario<F>(body: impl FnOnce(Driver, Server) -> F)
where
    F: std::future::Future<Output = ()>,
{
    let Some(driver) = Driver::start() else {
        return;
    };
    let db = Database::sqlite();
    let server = Server::start(&db);
    actix_web::rt::System::new().block_on(body(driver, server));
}

/// Waits (up to 20 s) until the page the browser shows has loaded.
async fn loaded(browser: &Client) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = browser
            .execute("return document.readyState", Vec::new())
            .await;
        if matches!(&state, Ok(serde_json::Value::String(state)) if state == "complete") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not load: {state:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The visible text of the page, once it has loaded; read again when a
/// navigation replaced the page while it was read.
async fn text(browser: &Client) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        loaded(browser).await;
        let read = match browser.find(Locator::Css("body")).await {
            Ok(body) => body.text().await,
            Err(err) => Err(err),
        };
        match read {
            Ok(text) => return text,
            Err(err) => assert!(Instant::now() < deadline, "the page's text: {err}"),
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks what `css` finds and waits until the page it leads to has
/// replaced this one and loaded.
async fn click_and_wait(browser: &Client, css: &str) {
    let page = browser.find(Locator::Css("html")).await.expect("the page");
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("{css}: {err}"))
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    // The old page's root goes stale once the new page is there.
    while page.tag_name().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "clicking {css} led to no new page"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    loaded(browser).await;
}

/// Path and query of the page the browser shows.
async fn location(browser: &Client) -> String {
    let url = browser.current_url().await.expect("the url");
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Fills in the login form the browser shows and sends it, as a person
/// would: typing into the fields and pressing the button.
async fn log_in_here(browser: &Client, user: &str, password: &str) {
    browser
        .find(Locator::Css("input[name=username]"))
        .await
        .expect("the username field")
        .send_keys(user)
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .expect("the password field")
        .send_keys(password)
        .await
        .unwrap();
    click_and_wait(browser, "main button").await;
    wait_until(browser, |path| !path.starts_with("/accounts/login/")).await;
}

async fn log_in(browser: &Client, server: &Server, user: &str) {
    browser
        .goto(&format!("{}/accounts/login/", server.base))
        .await
        .unwrap();
    log_in_here(browser, user, PASSWORD).await;
}

/// Waits (up to 20 s) until the page's path and query satisfy `done`.
async fn wait_until(browser: &Client, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = location(browser).await;
        if done(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "the browser stayed on {now}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves what the browser shows as `target/browser-screenshots/NAME.png`.
async fn screenshot(browser: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The first item's page path, as the item list links it.
async fn item_path(browser: &Client, server: &Server) -> String {
    browser
        .goto(&format!("{}/items/", server.base))
        .await
        .unwrap();
    let link = browser
        .find(Locator::LinkText(ITEM))
        .await
        .expect("the item in the list");
    let href = link.attr("href").await.unwrap().expect("a link");
    href.strip_prefix(&server.base).unwrap_or(&href).to_owned()
}

#[test]
fn an_anonymous_visit_logs_in_and_comes_back_to_the_page_asked_for() {
    scenario(|driver, server| async move {
        let browser = driver.session().await;
        browser
            .goto(&format!("{}/items/1/", server.base))
            .await
            .unwrap();
        let at = location(&browser).await;
        assert_eq!(at, "/accounts/login/?next=/items/1/");
        assert!(text(&browser).await.contains("Log in"));
        screenshot(&browser, "login").await;

        log_in_here(&browser, "carol", PASSWORD).await;
        assert_eq!(location(&browser).await, "/items/1/");
        let page = text(&browser).await;
        assert!(page.contains(ITEM), "{page}");
        assert!(page.contains("Logged in as carol"), "{page}");

        browser
            .goto(&format!("{}/items/", server.base))
            .await
            .unwrap();
        let page = text(&browser).await;
        assert!(page.contains("Washer 8 mm") && page.contains("Add an item"));
        screenshot(&browser, "items").await;
        browser.close().await.unwrap();
    });
}

#[test]
fn a_user_without_the_permission_sees_the_403_page_with_their_name() {
    scenario(|driver, server| async move {
        let browser = driver.session().await;
        log_in(&browser, &server, "erin").await;
        browser
            .goto(&format!("{}/items/", server.base))
            .await
            .unwrap();
        assert_eq!(location(&browser).await, "/items/");
        assert_eq!(browser.title().await.unwrap(), "403 Forbidden");
        let page = text(&browser).await;
        assert!(
            page.contains("You do not have permission to see this page."),
            "{page}"
        );
        assert!(page.contains("Logged in as erin"), "{page}");
        assert!(!page.contains(ITEM), "{page}");
        screenshot(&browser, "forbidden").await;
        browser.close().await.unwrap();
    });
}

#[test]
fn after_logout_the_back_button_shows_no_protected_content() {
    scenario(|driver, server| async move {
        let browser = driver.session().await;
        log_in(&browser, &server, "carol").await;
        browser
            .goto(&format!("{}/items/", server.base))
            .await
            .unwrap();
        assert!(text(&browser).await.contains(ITEM));

        click_and_wait(&browser, "nav form button").await;
        wait_until(&browser, |path| path.starts_with("/accounts/login/")).await;

        browser.back().await.unwrap();
        let page = text(&browser).await;
        assert!(!page.contains(ITEM), "back showed the list again: {page}");
        browser.refresh().await.unwrap();
        let at = location(&browser).await;
        let page = text(&browser).await;
        assert!(at.starts_with("/accounts/login/"), "after reload: {at}");
        assert!(!page.contains(ITEM), "{page}");
        assert!(!page.contains("Logged in as"), "{page}");
        browser.close().await.unwrap();
    });
}

#[test]
fn a_password_change_keeps_this_session_and_ends_the_other_browsers() {
    scenario(|driver, server| async move {
        let here = driver.session().await;
        let there = driver.session().await;
        log_in(&here, &server, "carol").await;
        log_in(&there, &server, "carol").await;
        let items = format!("{}/items/", server.base);
        there.goto(&items).await.unwrap();
        assert!(text(&there).await.contains("Logged in as carol"));

        here.goto(&format!("{}/accounts/password/", server.base))
            .await
            .unwrap();
        let form = here.form(Locator::Css("main form")).await.unwrap();
        form.set_by_name("old_password", PASSWORD).await.unwrap();
        form.set_by_name("new_password", "a-new-password-for-carol")
            .await
            .unwrap();
        click_and_wait(&here, "main button").await;
        let page = text(&here).await;
        assert!(!page.contains("incorrectly"), "{page}");

        here.goto(&items).await.unwrap();
        assert_eq!(location(&here).await, "/items/");
        assert!(text(&here).await.contains("Logged in as carol"));

        there.refresh().await.unwrap();
        assert_eq!(
            location(&there).await,
            "/accounts/login/?next=/items/",
            "the other browser is still signed in"
        );
        assert!(!text(&there).await.contains(ITEM));
        // And the new password is the one that works.
        log_in_here(&there, "carol", "a-new-password-for-carol").await;
        assert_eq!(location(&there).await, "/items/");
        here.close().await.unwrap();
        there.close().await.unwrap();
    });
}

/// "Log out other devices" in one real browser logs the other out at its
/// next page, and "Your sessions" shows both until then.
#[test]
fn logging_out_other_devices_ends_the_other_browser() {
    scenario(|driver, server| async move {
        let here = driver.session().await;
        let there = driver.session().await;
        log_in(&here, &server, "carol").await;
        log_in(&there, &server, "carol").await;
        let items = format!("{}/items/", server.base);
        there.goto(&items).await.unwrap();
        assert!(text(&there).await.contains("Logged in as carol"));

        here.goto(&format!("{}/accounts/sessions/", server.base))
            .await
            .unwrap();
        let page = text(&here).await;
        assert!(page.contains("(this one)"), "{page}");
        let rows = here
            .find_all(Locator::Css("#sessions tr.live"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "{page}");
        screenshot(&here, "sessions").await;
        click_and_wait(&here, "#end-others").await;
        assert_eq!(location(&here).await, "/accounts/sessions/");
        let rows = here
            .find_all(Locator::Css("#sessions tr.live"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(text(&here).await.contains("ended by you"));

        there.refresh().await.unwrap();
        assert_eq!(
            location(&there).await,
            "/accounts/login/?next=/items/",
            "the other browser is still signed in"
        );
        here.goto(&items).await.unwrap();
        assert!(text(&here).await.contains("Logged in as carol"));
        here.close().await.unwrap();
        there.close().await.unwrap();
    });
}

/// A hostile site: pages whose form submits itself to the app as soon as it
/// loads. It listens on `ip` (127.0.0.2 is another site than the app's
/// 127.0.0.1; 127.0.0.1 on another port is the same site, another origin).
struct Hostile {
    base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Hostile {
    fn start(ip: Ipv4Addr, app: &str) -> Self {
        let app = app.to_owned();
        let listener = TcpListener::bind(SocketAddr::from((ip, 0))).expect("bind the hostile site");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    let app = app.clone();
                    App::new().route(
                        "/{attack}",
                        web::get().to(move |attack: web::Path<String>| {
                            let page = attack_page(&app, &attack);
                            async move {
                                match page {
                                    Some(html) => HttpResponse::Ok()
                                        .content_type("text/html; charset=utf-8")
                                        .body(html),
                                    None => HttpResponse::NotFound().finish(),
                                }
                            }
                        }),
                    )
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            });
        });
        let handle = rx.recv().expect("the hostile site started");
        Self { base, handle }
    }

    /// Shows the attack's page in the browser and waits until its form has
    /// taken the browser to the app; returns the app's answer as shown.
    async fn attack(&self, browser: &Client, app: &str, attack: &str) -> String {
        browser
            .goto(&format!("{}/{attack}", self.base))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !browser
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(app)
        {
            assert!(
                Instant::now() < deadline,
                "the {attack} form did not submit"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        text(browser).await
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// The forms: delete the item, change the password, log the browser in as
/// the attacker (erin).
fn attack_page(app: &str, attack: &str) -> Option<String> {
    let (action, fields) = match attack {
        "delete" => ("/items/1/delete/", vec![]),
        "password" => (
            "/accounts/password/",
            vec![
                ("old_password", PASSWORD),
                ("new_password", "chosen-by-the-attacker"),
            ],
        ),
        "login" => (
            "/accounts/login/",
            vec![
                ("username", "erin"),
                ("password", PASSWORD),
                ("next", "/items/"),
            ],
        ),
        _ => return None,
    };
    let inputs: String = fields
        .iter()
        .map(|(name, value)| format!(r#"<input type="hidden" name="{name}" value="{value}">"#))
        .collect();
    Some(format!(
        r#"<!doctype html><html><head><title>Win a prize</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{app}{action}">{inputs}</form>
</body></html>"#
    ))
}

#[test]
fn forms_on_other_sites_and_origins_cannot_act_for_the_user() {
    scenario(|driver, server| async move {
        let app = server.base.clone();
        let cross_site = Hostile::start(Ipv4Addr::new(127, 0, 0, 2), &app);
        let same_site = Hostile::start(Ipv4Addr::LOCALHOST, &app);
        assert_ne!(same_site.base, app);

        for (kind, hostile) in [("cross-site", &cross_site), ("same-site", &same_site)] {
            // alice may delete items and change her password: the forms
            // would succeed if the browser's request were let through.
            let victim = driver.session().await;
            log_in(&victim, &server, "alice").await;
            let item = item_path(&victim, &server).await;
            assert_eq!(item, "/items/1/", "the item the delete form names");
            for attack in ["delete", "password"] {
                let page = hostile.attack(&victim, &app, attack).await;
                assert!(
                    page.contains("Forbidden (cross-site request)"),
                    "{kind} {attack}: {page}"
                );
            }
            // The item is still there, and alice is still signed in with
            // her password unchanged.
            victim.goto(&format!("{app}{item}")).await.unwrap();
            let page = text(&victim).await;
            assert!(
                page.contains(ITEM) && page.contains("Delete"),
                "{kind}: {page}"
            );
            assert!(page.contains("Logged in as alice"), "{kind}: {page}");
            let mut http = Http::new(&app);
            let seen = http.login("alice", PASSWORD, "/items/");
            assert_eq!(seen.status, 302, "{kind}: alice's password changed");
            victim.close().await.unwrap();

            // Login CSRF: a browser that is signed in as nobody is not
            // signed in as the attacker afterwards.
            let anonymous = driver.session().await;
            let page = hostile.attack(&anonymous, &app, "login").await;
            assert!(
                page.contains("Forbidden (cross-site request)"),
                "{kind} login: {page}"
            );
            anonymous.goto(&format!("{app}/items/")).await.unwrap();
            let at = location(&anonymous).await;
            assert!(at.starts_with("/accounts/login/"), "{kind} login: {at}");
            assert!(!text(&anonymous).await.contains("Logged in as"));
            anonymous.close().await.unwrap();
        }
        cross_site.stop().await;
        same_site.stop().await;
    });
}

/// A login older than ten minutes, in a real browser: deleting an item
/// goes through the password form and back to the same question, and the
/// item goes only after the password was confirmed.
#[test]
fn deleting_after_a_while_asks_for_the_password_again_and_comes_back() {
    scenario(|driver, server| async move {
        let browser = driver.session().await;
        log_in(&browser, &server, "alice").await;
        let item = item_path(&browser, &server).await;

        // Eleven minutes pass: the session's proof is aged with the
        // server's key, as the clock would have aged it.
        let name = "inventory_session";
        let cookie = browser
            .get_named_cookie(name)
            .await
            .expect("the session cookie");
        let aged = common::aged_session(
            &format!("{name}={}", cookie.value()),
            Duration::from_secs(11 * 60),
        );
        let value = aged.split_once('=').unwrap().1.to_owned();
        browser.delete_cookie(name).await.unwrap();
        let mut replaced = fantoccini::cookies::Cookie::new(name, value);
        replaced.set_path("/");
        replaced.set_domain(cookie.domain().unwrap_or("127.0.0.1").to_owned());
        replaced.set_http_only(true);
        replaced.set_same_site(cookie.same_site());
        browser.add_cookie(replaced).await.unwrap();

        browser
            .goto(&format!("{}{item}", server.base))
            .await
            .unwrap();
        click_and_wait(&browser, "form[action$='/delete/'] button").await;
        let delete = format!("{item}delete/");
        assert_eq!(
            location(&browser).await,
            format!("/accounts/reauthenticate/?next={delete}")
        );
        let page = text(&browser).await;
        assert!(page.contains("Confirm your password"), "{page}");
        screenshot(&browser, "reauthenticate").await;

        // A wrong password: the form again, nothing deleted.
        let password = browser
            .find(Locator::Css("input[name=password]"))
            .await
            .expect("the password field");
        password.send_keys("not it").await.unwrap();
        click_and_wait(&browser, "main button").await;
        assert!(text(&browser).await.contains("That is not your password."));

        // The right one: back to the question, which now goes through.
        browser
            .find(Locator::Css("input[name=password]"))
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        click_and_wait(&browser, "main button").await;
        assert_eq!(location(&browser).await, delete);
        let page = text(&browser).await;
        assert!(page.contains(&format!("Delete {ITEM}?")), "{page}");
        assert!(page.contains("Logged in as alice"), "{page}");
        click_and_wait(&browser, "main form button").await;
        assert_eq!(location(&browser).await, "/items/");
        assert!(!text(&browser).await.contains(ITEM));
        browser.close().await.unwrap();
    });
}
