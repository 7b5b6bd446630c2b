//! A real browser for the email's HTML part: Debian's `chromium`, headless. `measure` loads a
//! page with a probe script appended, lets the browser lay it out, and returns what the probe
//! wrote: one launch per call (each takes about 2 s), so a test asks everything at once.
//!
//! Missing chromium skips the calling test with a printed reason, unless `JBR_REQUIRE_BROWSER=1`
//! (set by scripts/test, which installs it), so a run cannot pass by skipping.

use std::fs;
use std::time::Duration;

use super::bin::Cmd;

const PROGRAM: &str = "chromium";

/// True when the calling test should stop because chromium cannot run here (it says why).
pub fn skip_without_browser(test: &str) -> bool {
    if Cmd::new(PROGRAM)
        .arg("--version")
        .bound(Duration::from_secs(30))
        .run()
        .code
        == Some(0)
    {
        return false;
    }
    if std::env::var("JBR_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!(
            "{test}: JBR_REQUIRE_BROWSER=1 but `{PROGRAM}` does not run (apt-get install chromium)"
        );
    }
    eprintln!(
        "SKIP {test}: no `{PROGRAM}` (apt-get install --no-install-recommends chromium); run scripts/test as root to install it"
    );
    true
}

/// Loads `html` (a whole document) in headless chromium with `probe` (JavaScript, run after the
/// page is laid out) appended to its body, and returns the string the probe left in
/// `window.jbrProbe` (JSON, say). The probe is the test's, never the page's: the page itself
/// must run no script at all.
pub fn measure(html: &str, probe: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let script = format!(
        "<script>(function(){{try{{window.jbrProbe=(function(){{{probe}}})();}}catch(e){{window.jbrProbe='probe failed: '+e;}}\
         var out=document.createElement('textarea');out.id='jbr-probe';out.textContent=String(window.jbrProbe);document.body.appendChild(out);}})();</script>"
    );
    let with_probe = match html.rfind("</body>") {
        Some(at) => format!("{}{script}{}", &html[..at], &html[at..]),
        None => format!("{html}{script}"),
    };
    fs::write(&page, with_probe).unwrap();
    let run = Cmd::new(PROGRAM)
        .args([
            "--headless",
            // Root in a container has no user namespaces for the sandbox.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1200,2000",
        ])
        // Its own profile: another chromium (another test run) holds the default one's lock.
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .bound(Duration::from_secs(60))
        .run();
    run.expect_success();
    // The textarea's value is serialized as its text content: only &, < and > are escaped.
    let dom = &run.stdout;
    let start = dom
        .find("<textarea id=\"jbr-probe\">")
        .map(|i| i + "<textarea id=\"jbr-probe\">".len())
        .unwrap_or_else(|| panic!("no probe output in the DOM chromium dumped:\n{run}"));
    let end = dom[start..]
        .find("</textarea>")
        .map(|i| start + i)
        .unwrap_or_else(|| panic!("probe output not closed:\n{run}"));
    dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}
