//! The email's HTML part as a reader sees it: laid out by a real browser (headless chromium,
//! one launch), then measured. The night below has hostile names in every field that comes
//! from the config or a server; none of them may become markup, and every bar must sit where
//! its job ran, as wide as it ran, in its outcome's legend colour.
//! See issue 11, item 6 ("a picture of the night").

mod support;

use jbr::notify::{self, Reason};
use jbr::report::html::{MIN_BAR_PX, TRACK_PX};
use jbr::report::{
    Alert, AlertKind, Critical, Exposure, JobRecord, Outcome, RunRecord, ServerRecord,
    WindowTotals, text,
};
use serde_json::Value;
use support::browser::{measure, skip_without_browser};

const T0: f64 = 1_795_000_000.0;
const NIGHT: f64 = 10_800.0;
const PWN_LABEL: &str = "<script>window.jbrPwned=1</script>";
const SERVER_2: &str = "web-02 \"&<u>x</u>";

fn job(
    server: &str,
    id: &str,
    label: &str,
    outcome: Outcome,
    span: Option<(f64, f64)>,
) -> JobRecord {
    let mut j = JobRecord::new(server, id, label, outcome);
    if let Some((from, to)) = span {
        j.start = Some(T0 + from);
        j.end = Some(T0 + to);
        j.duration_secs = Some(to - from);
    }
    j
}

/// Three servers: two ran two jobs each (a failure, warnings with a scheduler run, a timeout),
/// the third was skipped; a foreign backup, a critical leftover, hostile text everywhere.
fn night() -> RunRecord {
    let mut r = RunRecord::new("20261118-0200<i>", T0);
    r.ended = T0 + NIGHT;
    let mut a = job(
        "web-01",
        "650800000000000000a106d9",
        "accounts",
        Outcome::Completed,
        Some((300.0, 2700.0)),
    );
    a.exposure = Some(Exposure::new(5.0, 3.0));
    a.status_raw = Some(100);
    a.status_name = Some("completed".into());
    a.items_failed = Some(0);
    a.items_total = Some(12);
    let mut b = job(
        "web-01",
        "650800000000000000a206d9",
        PWN_LABEL,
        Outcome::Failed,
        Some((2760.0, 3360.0)),
    );
    b.exposure = Some(Exposure::new(2.0, 1.0));
    b.message = "queue group finished with status 4 failed & \"<b>bold</b>\"".into();
    b.failures = vec!["<img src=x onerror=\"window.jbrPwned=2\">".into()];
    b.group_id = Some("6600<aaaa>bbbbccccdddd".into());
    b.status_name = Some("failed <&>".into());
    b.status_raw = Some(104);
    let mut c = job(
        SERVER_2,
        "650800000000000000b106d9",
        "databases",
        Outcome::Warnings,
        Some((3600.0, 7200.0)),
    );
    c.exposure = Some(Exposure::new(4.0, 2.0));
    c.scheduler_runs = 1;
    c.nas_idle_before_secs = Some(240.0);
    let d = job(
        SERVER_2,
        "650800000000000000b206d9",
        "O'Brien & \"Sons\" <tag>",
        Outcome::TimedOutAborted,
        Some((7300.0, 10_000.0)),
    );
    let e = job(
        "web-03",
        "650800000000000000c106d9",
        "mail",
        Outcome::Skipped,
        None,
    )
    .with_message("server skipped: unreachable");
    r.jobs = vec![a, b, c, d, e];
    r.servers = vec![
        ServerRecord::new("web-01"),
        ServerRecord::new(SERVER_2),
        ServerRecord {
            skipped: Some("unreachable: ssh: connect <refused> & \"gone\"".into()),
            ..ServerRecord::new("web-03")
        },
    ];
    r.servers[1]
        .notes
        .push("a foreign backup <was> waited for".into());
    r.alerts.push(Alert {
        kind: AlertKind::ForeignBackup,
        server: Some(SERVER_2.into()),
        job_id: None,
        message: format!(
            "server {SERVER_2}: a backup jbr did not start (queue group <g1>, job x) was writing to the NAS"
        ),
    });
    r.window = WindowTotals::of(&r.jobs);
    r.critical.push(Critical {
        server: SERVER_2.into(),
        what: "job".into(),
        id: "650800000000000000b206d9".into(),
        message: "server web-02: job 6508…06d9 is ENABLED, disable it by hand <now>".into(),
    });
    r
}

/// Everything the assertions need, from one page load.
const PROBE: &str = r#"
function box(el) { var r = el.getBoundingClientRect(); return {left: r.left, width: r.width, height: r.height}; }
function colour(el) { return getComputedStyle(el).backgroundColor; }
var tracks = [];
document.querySelectorAll('tr[data-server]').forEach(function (tr) {
  var label = tr.cells[0], track = tr.cells[1];
  var segs = [];
  track.querySelectorAll('td[data-kind]').forEach(function (td) {
    var b = box(td);
    segs.push({kind: td.getAttribute('data-kind'), left: b.left - box(track).left, width: b.width,
               height: b.height, colour: colour(td), title: td.title, text: td.textContent});
  });
  var badge = label.querySelector('[data-kind=foreign]');
  tracks.push({server: label.firstChild.textContent, attr: tr.getAttribute('data-server'), segs: segs,
               foreign: badge ? {colour: colour(badge), title: badge.title, text: badge.textContent} : null});
});
var ticks = [];
document.querySelectorAll('td[data-kind=tick]').forEach(function (td) {
  ticks.push({text: td.textContent, left: box(td).left - box(td.closest('table')).left});
});
var legend = {};
document.querySelectorAll('tr[data-legend]').forEach(function (tr) {
  legend[tr.cells[1].textContent] = {kind: tr.getAttribute('data-legend'), colour: colour(tr.cells[0]),
                                     width: box(tr.cells[0]).width};
});
var table = [];
var th = document.querySelector('th');
th.closest('table').querySelectorAll('tr').forEach(function (tr, i) {
  if (i === 0) return;
  table.push(Array.prototype.map.call(tr.cells, function (td) { return {text: td.textContent, colour: colour(td)}; }));
});
return JSON.stringify({
  pwned: window.jbrPwned === undefined ? null : window.jbrPwned,
  scripts: document.scripts.length,
  images: document.images.length,
  title: document.title,
  tracks: tracks, legend: legend, table: table, ticks: ticks,
  header: Array.prototype.map.call(th.parentNode.cells, function (c) { return c.textContent; }),
  text: document.body.innerText
});
"#;

fn px(secs: f64) -> f64 {
    secs / NIGHT * f64::from(TRACK_PX)
}

#[track_caller]
fn near(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1.5,
        "{what}: {got} px, expected {want:.1} px"
    );
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[test]
fn the_html_part_shows_the_table_and_a_timeline_a_browser_lays_out_true() {
    if skip_without_browser("the_html_part_shows_the_table_and_a_timeline_a_browser_lays_out_true")
    {
        return;
    }
    let record = night();
    let html = notify::html_body(Reason::Critical, &record, "nas01");
    // Kept for a human look: open it in a browser.
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-night.html");
    std::fs::write(&kept, &html).unwrap();
    let got: Value = serde_json::from_str(&measure(&html, PROBE))
        .unwrap_or_else(|e| panic!("probe output is not JSON ({e}); page: {}", kept.display()));
    let see = format!("(page kept at {})", kept.display());

    // Hostile text stayed text: nothing ran but the probe, no element came from a name.
    assert_eq!(got["pwned"], Value::Null, "a name ran as script {see}");
    assert_eq!(got["scripts"], 1, "only the test's probe is a script {see}");
    assert_eq!(got["images"], 0, "{see}");
    // Markup only: the same words inside (escaped) text are fine.
    for forbidden in [
        "<script", "<svg", "<img", "<link", "<style", " src=\"", " href=\"", "url(",
    ] {
        assert!(
            !html.to_ascii_lowercase().contains(forbidden),
            "the HTML part holds {forbidden:?} (mail clients block or mangle it); {see}"
        );
    }

    assert_eq!(s(&got["title"]), text::headline(&record));

    // The table is the text report's table, cell for cell, hostile names verbatim.
    let header: Vec<&str> = got["header"].as_array().unwrap().iter().map(s).collect();
    assert_eq!(header, text::JOB_COLUMNS);
    let rows = got["table"].as_array().unwrap();
    assert_eq!(rows.len(), record.jobs.len(), "{see}");
    for (row, j) in rows.iter().zip(&record.jobs) {
        let cells: Vec<&str> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|c| s(&c["text"]))
            .collect();
        assert_eq!(cells, text::job_row(j), "{see}");
    }
    assert!(rows[1][1]["text"].as_str().unwrap().contains(PWN_LABEL));

    // Whatever the text says after its table is in the page too, and the critical box first.
    let page = s(&got["text"]);
    let text_body = notify::body(Reason::Critical, &record, "nas01");
    for line in text::after_table(&record)
        .lines()
        .chain(text_body.lines().rev().take(2))
    {
        assert!(page.contains(line.trim()), "missing {line:?} {see}");
    }
    let critical = page.find("CRITICAL — act now:").expect("critical shown");
    assert!(page[critical..].contains("is ENABLED, disable it by hand <now>"));
    assert!(critical < page.find("SERVER").unwrap_or(usize::MAX));

    // The legend names one colour per mark; each outcome drawn has its own.
    let legend = got["legend"].as_object().unwrap();
    let swatch = |words: &str| -> String {
        legend
            .get(words)
            .map(|l| s(&l["colour"]).to_string())
            .unwrap_or_else(|| panic!("no legend entry {words:?}: {legend:#?}"))
    };
    let of_kind = |kind: &str| -> String {
        legend
            .values()
            .find(|l| l["kind"] == kind)
            .map(|l| s(&l["colour"]).to_string())
            .unwrap_or_else(|| panic!("no legend entry of kind {kind}: {legend:#?}"))
    };
    let mut colours: Vec<String> = legend.values().map(|l| s(&l["colour"]).into()).collect();
    colours.sort();
    colours.dedup();
    assert_eq!(
        colours.len(),
        legend.len(),
        "two marks share a colour: {legend:#?}"
    );

    // One row per server, in the report's order, named verbatim.
    let tracks = got["tracks"].as_array().unwrap();
    let names: Vec<&str> = tracks.iter().map(|t| s(&t["server"])).collect();
    assert_eq!(names, ["web-01", SERVER_2, "web-03"], "{see}");
    assert_eq!(s(&tracks[1]["attr"]), SERVER_2);

    // One bar per job that ran, where and as long as it ran, in its outcome's colour; just
    // before it, the time it sat enabled waiting for the trigger.
    let mut bars = Vec::new();
    for (track, server) in tracks.iter().zip(["web-01", SERVER_2]) {
        let segs = track["segs"].as_array().unwrap();
        let jobs: Vec<&JobRecord> = record.jobs.iter().filter(|j| j.server == server).collect();
        let job_segs: Vec<&Value> = segs.iter().filter(|g| g["kind"] == "job").collect();
        assert_eq!(
            job_segs.len(),
            jobs.len(),
            "{server}: {} bar(s) for {} job(s) that ran {see}; its track: {segs:#?}",
            job_segs.len(),
            jobs.len()
        );
        for (bar, j) in job_segs.iter().zip(&jobs) {
            let (start, end) = (j.start.unwrap() - T0, j.end.unwrap() - T0);
            let what = format!("{server} {}", j.label);
            near(f(&bar["left"]), px(start), &format!("{what}: left"));
            near(
                f(&bar["width"]),
                px(end - start).max(f64::from(MIN_BAR_PX)),
                &format!("{what}: width"),
            );
            assert!(f(&bar["height"]) >= 10.0, "{what}: {bar}");
            assert_eq!(s(&bar["colour"]), swatch(j.outcome.as_str()), "{what}");
            assert!(
                s(&bar["title"]).contains(&text::job_name(&j.job_id, &j.label)),
                "{what}: {bar}"
            );
            assert!(s(&bar["title"]).contains(j.outcome.as_str()), "{what}");
            bars.push((f(&bar["left"]), f(&bar["width"]), what));
        }
        for (i, g) in segs.iter().enumerate() {
            if g["kind"] == "exposed" {
                let next = &segs[i + 1];
                assert_eq!(next["kind"], "job", "exposure precedes its job: {segs:#?}");
                near(
                    f(&g["left"]) + f(&g["width"]),
                    f(&next["left"]),
                    "exposure ends at the trigger",
                );
                assert!(f(&g["width"]) >= f64::from(MIN_BAR_PX), "{g}");
                assert_eq!(s(&g["colour"]), of_kind("exposed"));
            }
        }
        let exposed = segs.iter().filter(|g| g["kind"] == "exposed").count();
        let want = jobs.iter().filter(|j| j.exposure.is_some()).count();
        assert_eq!(exposed, want, "{server}: {segs:#?}");
    }
    assert_eq!(bars.len(), 4);

    // One writer at a time, and the gaps between jobs show: no two bars overlap, and the 4
    // minutes between web-01's last job and web-02's first are empty track.
    bars.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in bars.windows(2) {
        assert!(
            w[0].0 + w[0].1 <= w[1].0 + 0.5,
            "{} overlaps {}",
            w[0].2,
            w[1].2
        );
    }
    let gap = bars[2].0 - (bars[1].0 + bars[1].1);
    near(gap, px(240.0), "gap before web-02's first job");
    let idle = tracks[1]["segs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == "idle")
        .unwrap();
    assert_eq!(s(&idle["colour"]), of_kind("idle"));

    // The scheduler's own run of "databases": a stripe over exactly that bar, none elsewhere.
    let web02 = tracks[1]["segs"].as_array().unwrap();
    let stripes: Vec<&Value> = web02.iter().filter(|g| g["kind"] == "scheduler").collect();
    assert_eq!(stripes.len(), 1, "{web02:#?}");
    let databases = web02
        .iter()
        .find(|g| g["kind"] == "job" && s(&g["title"]).contains("databases"))
        .unwrap();
    near(f(&stripes[0]["left"]), f(&databases["left"]), "stripe left");
    near(
        f(&stripes[0]["width"]),
        f(&databases["width"]),
        "stripe width",
    );
    assert_eq!(s(&stripes[0]["colour"]), of_kind("scheduler"));
    assert!(s(&databases["title"]).contains("scheduler ran it 1 time(s)"));
    assert!(
        !tracks[0]["segs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["kind"] == "scheduler")
    );

    // The foreign backup is marked on its server's row, and only there.
    let badge = &tracks[1]["foreign"];
    assert_eq!(s(&badge["text"]), "foreign backup");
    assert_eq!(s(&badge["colour"]), of_kind("foreign"));
    assert!(s(&badge["title"]).contains("queue group <g1>"), "{badge}");
    assert!(tracks[0]["foreign"].is_null() && tracks[2]["foreign"].is_null());

    // The clock under the tracks: a tick each half hour of this 3-hour night, at its place.
    let ticks = got["ticks"].as_array().unwrap();
    let labels: Vec<&str> = ticks.iter().map(|t| s(&t["text"])).collect();
    assert_eq!(
        labels,
        ["11:30", "12:00", "12:30", "13:00", "13:30", "14:00"]
    );
    for (tick, half_hours) in ticks.iter().zip(23..) {
        let at = f64::from(half_hours) * 1800.0 - (T0 % 86_400.0);
        near(
            f(&tick["left"]),
            px(at),
            &format!("tick {}", s(&tick["text"])),
        );
    }

    // The skipped server says why, and its job (no time on the axis) is counted as bar-less.
    let web03 = tracks[2]["segs"].as_array().unwrap();
    assert_eq!(web03.len(), 1, "{web03:#?}");
    assert_eq!(
        s(&web03[0]["text"]),
        "skipped: unreachable: ssh: connect <refused> & \"gone\""
    );
    assert!(page.contains("1 job(s) have no time on the night's axis and no bar"));
}
