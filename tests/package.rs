//! The Debian package (issue 12, item 4): `[package.metadata.deb]` in Cargo.toml and
//! `scripts/package`.
//!
//! Always run: the assets are exactly what the package must install, each one exists or is
//! written by `scripts/package --assets`; the packaged units differ from `systemd/` only in the
//! binary's path; the units' `User=` and `*Directory=` lines agree with `jbr.sysusers` and
//! `jbr.tmpfiles`, and those two files, applied to an empty root the way the postinst applies
//! them, create that user and those directories. Where cargo-deb is installed: the .deb itself
//! (`dpkg-deb -c`, `-I`, its maintainer scripts, and the same install on its extracted files).
//! CI does not install cargo-deb (README, "Tests", says why), so there that test
//! skips and says so.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use support::bin::{self, Run};

/// What the package installs, by destination, with its mode; written down apart from Cargo.toml,
/// which must list exactly these. The binary (not jbr-sim, a test simulator), the man page and
/// completions, both schedules, the user and its directories, the docs, the gate.
const INSTALLS: [(&str, u32); 14] = [
    ("usr/bin/jbr", 0o755),
    ("usr/share/man/man1/jbr.1", 0o644),
    ("usr/share/bash-completion/completions/jbr", 0o644),
    ("usr/share/zsh/vendor-completions/_jbr", 0o644),
    ("usr/share/fish/vendor_completions.d/jbr.fish", 0o644),
    ("usr/lib/systemd/system/jbr.service", 0o644),
    ("usr/lib/systemd/system/jbr.timer", 0o644),
    ("usr/lib/systemd/system/jbr-daemon.service", 0o644),
    ("usr/lib/sysusers.d/jbr.conf", 0o644),
    ("usr/lib/tmpfiles.d/jbr.conf", 0o644),
    ("usr/share/doc/jbr/README.md", 0o644),
    ("usr/share/doc/jbr/config.example.json", 0o644),
    ("usr/share/jbr/server/jbr-gate", 0o755),
    ("usr/share/jbr/server/README.md", 0o644),
];

/// Where `scripts/package` writes what jbr generates (Cargo.toml's assets read it from there).
const GENERATED: &str = "target/package/";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One `["SOURCE", "DEST", "MODE"]` line of `[package.metadata.deb] assets`.
#[derive(Debug)]
struct Asset {
    source: String,
    /// Where it lands, a file path even when Cargo.toml gives a directory (`usr/bin/`).
    dest: String,
    mode: u32,
}

/// Cargo.toml's deb assets. Read by hand, one asset per line (no toml crate for one test); a line
/// in any other form fails the test rather than being skipped.
fn assets() -> Vec<Asset> {
    let manifest = read(&repo().join("Cargo.toml"));
    let deb = manifest
        .split("\n[package.metadata.deb]\n")
        .nth(1)
        .expect("Cargo.toml has [package.metadata.deb]");
    let list = deb
        .split("\nassets = [\n")
        .nth(1)
        .and_then(|rest| rest.split("\n]").next())
        .expect("[package.metadata.deb] has an `assets = [` list");
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix("],"))
                .map(|l| l.split(", ").map(|f| f.trim_matches('"')).collect())
                .unwrap_or_default();
            let [source, dest, mode] = fields[..] else {
                panic!(
                    "Cargo.toml: asset not in the form [\"SOURCE\", \"DEST\", \"MODE\"],: {line}"
                );
            };
            let dest = match dest.strip_suffix('/') {
                Some(dir) => format!("{dir}/{}", file_name(source)),
                None => dest.to_string(),
            };
            let mode = u32::from_str_radix(mode, 8).unwrap_or_else(|e| panic!("{line}: {e}"));
            Asset {
                source: source.to_string(),
                dest,
                mode,
            }
        })
        .collect()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `scripts/package --assets`: the generated files, made by the jbr under test, into `dir`.
fn write_generated(dir: &Path) -> Run {
    let run = bin::Cmd::new(repo().join("scripts/package"))
        .arg("--assets")
        .arg(env!("CARGO_BIN_EXE_jbr"))
        .arg(dir)
        .run();
    run.expect_success();
    run
}

#[test]
fn the_assets_are_what_the_package_installs_and_each_one_exists_or_is_generated() {
    let assets = assets();
    let listed: BTreeMap<&str, u32> = assets.iter().map(|a| (a.dest.as_str(), a.mode)).collect();
    assert_eq!(
        listed.len(),
        assets.len(),
        "two assets share a destination: {assets:#?}"
    );
    for (dest, mode) in INSTALLS {
        match listed.get(dest) {
            None => panic!("Cargo.toml's deb assets install nothing at {dest}"),
            Some(m) => assert_eq!(
                *m, mode,
                "{dest}: mode {m:o} in Cargo.toml, {mode:o} wanted"
            ),
        }
    }
    let wanted: Vec<&str> = INSTALLS.iter().map(|(d, _)| *d).collect();
    for dest in listed.keys() {
        assert!(
            wanted.contains(dest),
            "Cargo.toml installs {dest}, not in this test's INSTALLS: add it there if it belongs"
        );
    }

    let generated = tempfile::tempdir().unwrap();
    write_generated(generated.path());
    for a in &assets {
        if let Some(bin) = a.source.strip_prefix("target/release/") {
            // cargo-deb's name for the binary cargo builds: only jbr, never the simulator.
            assert_eq!(bin, "jbr", "{a:?}: the package holds the jbr binary only");
        } else if let Some(rel) = a.source.strip_prefix(GENERATED) {
            let path = generated.path().join(rel);
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(len > 0, "{a:?}: scripts/package --assets wrote no {rel}");
        } else {
            let path = repo().join(&a.source);
            assert!(path.is_file(), "{a:?}: no such file in the repository");
            // The file's own mode, so `install`-ing it by hand gives the same as the package.
            let exec = std::fs::metadata(&path).unwrap().permissions().mode() & 0o111 != 0;
            assert_eq!(
                exec,
                a.mode & 0o111 != 0,
                "{a:?}: executable in git or not, as packaged"
            );
        }
    }

    // Every file in systemd/ is packaged (from there or rewritten under target/package/systemd/),
    // so a new unit cannot be left out of the package.
    for entry in std::fs::read_dir(repo().join("systemd")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let sources = [
            format!("systemd/{name}"),
            format!("{GENERATED}systemd/{name}"),
        ];
        assert!(
            assets.iter().any(|a| sources.contains(&a.source)),
            "systemd/{name} is not in the package"
        );
    }
}

/// The units as packaged, by file name, from `scripts/package --assets` or `systemd/`.
fn packaged_units(generated: &Path) -> BTreeMap<String, String> {
    assets()
        .into_iter()
        .filter(|a| a.dest.starts_with("usr/lib/systemd/system/"))
        .map(|a| {
            let path = match a.source.strip_prefix(GENERATED) {
                Some(rel) => generated.join(rel),
                None => repo().join(&a.source),
            };
            (file_name(&a.dest).to_string(), read(&path))
        })
        .collect()
}

#[test]
fn the_packaged_units_differ_from_systemd_only_in_the_binary_path_and_name_only_packaged_units() {
    let generated = tempfile::tempdir().unwrap();
    write_generated(generated.path());
    let units = packaged_units(generated.path());
    for (name, packaged) in &units {
        let source = read(&repo().join("systemd").join(name));
        let (a, b): (Vec<&str>, Vec<&str>) = (source.lines().collect(), packaged.lines().collect());
        assert_eq!(a.len(), b.len(), "{name}: packaged unit has other lines");
        for (s, p) in a.iter().zip(&b) {
            if s != p {
                assert!(
                    s.starts_with("ExecStart=/usr/local/bin/jbr ")
                        && *p == s.replace("/usr/local/bin/jbr", "/usr/bin/jbr"),
                    "{name}: {s:?} became {p:?}"
                );
            }
        }
        for line in packaged.lines().filter(|l| l.starts_with("Exec")) {
            assert!(!line.contains("/usr/local/"), "{name}: {line}");
        }
        // Units it names (Conflicts=jbr.timer) are in the package too.
        for line in packaged.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if [
                "Conflicts",
                "Wants",
                "Requires",
                "After",
                "Before",
                "Unit",
                "Also",
            ]
            .contains(&key)
            {
                for other in value.split_whitespace().filter(|u| u.starts_with("jbr")) {
                    assert!(
                        units.contains_key(other),
                        "{name}: {line}: {other} is not packaged"
                    );
                }
            }
        }
        if let Some(stem) = name.strip_suffix(".timer") {
            let service = format!("{stem}.service");
            assert!(
                units.contains_key(&service),
                "{name} starts {service}, not packaged"
            );
        }
    }
}

/// One directory a unit asks systemd for, as `jbr.tmpfiles` must create it.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Dir {
    path: String,
    mode: u32,
    user: String,
    group: String,
}

/// As a tmpfiles line, the mode in octal.
impl std::fmt::Debug for Dir {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let Dir {
            path,
            mode,
            user,
            group,
        } = self;
        write!(f, "d {path} {mode:04o} {user} {group}")
    }
}

/// `key=value` lines of a unit, comments left out.
fn settings(unit: &str) -> Vec<(&str, &str)> {
    unit.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .collect()
}

fn setting<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
    settings(unit)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The directories a service's `*Directory=` lines make, with systemd's owners: `User=`/`Group=`,
/// except the configuration directory, which systemd leaves to root.
fn unit_dirs(name: &str, unit: &str) -> Vec<Dir> {
    let user = setting(unit, "User").unwrap_or_else(|| panic!("{name}: no User="));
    let group = setting(unit, "Group").unwrap_or_else(|| panic!("{name}: no Group="));
    let kinds = [
        ("Runtime", "/run", user),
        ("State", "/var/lib", user),
        ("Logs", "/var/log", user),
        ("Configuration", "/etc", "root"),
    ];
    let mut dirs = Vec::new();
    for (kind, base, owner) in kinds {
        let Some(dir) = setting(unit, &format!("{kind}Directory")) else {
            continue;
        };
        // systemd's own default is 0755; the unit must say what tmpfiles says.
        let mode = setting(unit, &format!("{kind}DirectoryMode"))
            .unwrap_or_else(|| panic!("{name}: {kind}Directory= without {kind}DirectoryMode="));
        dirs.push(Dir {
            path: format!("{base}/{dir}"),
            mode: u32::from_str_radix(mode, 8).unwrap(),
            user: owner.to_string(),
            group: group.to_string(),
        });
    }
    dirs.sort();
    dirs
}

/// What both services ask for; they must agree, as one tmpfiles file serves both.
fn expected_dirs() -> Vec<Dir> {
    let mut seen: Option<Vec<Dir>> = None;
    for name in ["jbr.service", "jbr-daemon.service"] {
        let unit = read(&repo().join("systemd").join(name));
        // A service stopping would delete the /run/jbr that tmpfiles made, with the lock file a
        // manual run may hold in it.
        assert_eq!(
            setting(&unit, "RuntimeDirectoryPreserve"),
            Some("yes"),
            "{name}"
        );
        let dirs = unit_dirs(name, &unit);
        if let Some(first) = &seen {
            assert_eq!(
                first, &dirs,
                "jbr.service and {name} ask for different directories"
            );
        }
        seen = Some(dirs);
    }
    seen.unwrap()
}

#[test]
fn the_units_user_and_directories_are_the_ones_sysusers_and_tmpfiles_create() {
    let dirs = expected_dirs();
    let sysusers = read(&repo().join("systemd/jbr.sysusers"));
    let tmpfiles = read(&repo().join("systemd/jbr.tmpfiles"));
    let lines = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };

    // `u jbr - "GECOS" HOME`: a user and its group of the same name, at home in the state dir.
    let users = lines(&sysusers);
    assert_eq!(users.len(), 1, "jbr.sysusers: one user: {users:?}");
    let user = &users[0];
    assert_eq!(
        (user[0].as_str(), user[1].as_str()),
        ("u", "jbr"),
        "{user:?}"
    );
    let state = dirs
        .iter()
        .find(|d| d.path.starts_with("/var/lib/"))
        .unwrap();
    assert_eq!(
        user.last(),
        Some(&state.path),
        "jbr's home is its StateDirectory"
    );
    for d in &dirs {
        for owner in [&d.user, &d.group] {
            assert!(
                owner == "root" || owner == "jbr",
                "{d:?}: {owner} is not jbr.sysusers' user"
            );
        }
    }

    // One `d PATH MODE USER GROUP -` line per directory: same mode and owners, never cleaned.
    let mut created: Vec<Dir> = lines(&tmpfiles)
        .iter()
        .map(|f| {
            assert_eq!(f.len(), 6, "jbr.tmpfiles: {f:?}");
            assert_eq!(
                (f[0].as_str(), f[5].as_str()),
                ("d", "-"),
                "jbr.tmpfiles: {f:?}"
            );
            Dir {
                path: f[1].clone(),
                mode: u32::from_str_radix(&f[2], 8).unwrap(),
                user: f[3].clone(),
                group: f[4].clone(),
            }
        })
        .collect();
    created.sort();
    assert_eq!(
        created, dirs,
        "jbr.tmpfiles against the units' *Directory= lines"
    );

    // And jbr's defaults live in them (its config, lock, state, log; the ssh control sockets).
    let defaults = [
        jbr::config::DEFAULT_CONFIG_PATH,
        jbr::config::defaults::LOCK_FILE,
        jbr::config::defaults::STATE_FILE,
        jbr::config::defaults::LOG_FILE,
    ];
    for file in defaults {
        let parent = Path::new(file).parent().unwrap().to_str().unwrap();
        assert!(
            dirs.iter().any(|d| d.path == parent),
            "{file}: {parent} is not created"
        );
    }
    let control = jbr::transport::ssh::DEFAULT_CONTROL_DIR;
    assert!(
        dirs.iter().any(|d| d.path == control),
        "{control} is not created"
    );
}

/// `name:x:uid:gid:…` from `root/etc/passwd` or `root/etc/group`.
fn id_in(root: &Path, file: &str, name: &str) -> u32 {
    let text = read(&root.join("etc").join(file));
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f[0] == name)
        .map(|f| f[2].parse().unwrap())
        .unwrap_or_else(|| panic!("no {name} in {file}:\n{text}"))
}

/// What the postinst does, on `root`: `systemd-sysusers jbr.conf`, then `systemd-tmpfiles
/// --create jbr.conf` (both find it under `root`'s usr/lib), then checks that the user and every
/// directory the units expect are there, with their modes and owners. Skips (saying so) without
/// the tools or root (tmpfiles chowns).
fn install_user_and_dirs_on(root: &Path) {
    let why = "to apply jbr.sysusers and jbr.tmpfiles";
    if !support::tools::available("systemd-sysusers", why)
        || !support::tools::available("systemd-tmpfiles", why)
    {
        return;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: systemd-tmpfiles needs root to give the directories to jbr");
        return;
    }
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let root_arg = format!("--root={}", root.display());
    for (tool, args) in [
        ("systemd-sysusers", vec![root_arg.as_str(), "jbr.conf"]),
        (
            "systemd-tmpfiles",
            vec![root_arg.as_str(), "--create", "jbr.conf"],
        ),
    ] {
        let run = bin::Cmd::new(tool).args(args).run();
        run.expect_success();
        // sysusers says what it creates ("Creating user 'jbr' ..."); anything else is a complaint.
        let complaints = run.stderr.lines().filter(|l| !l.starts_with("Creating "));
        assert_eq!(complaints.count(), 0, "{tool} complained:\n{run}");
    }
    let passwd = read(&root.join("etc/passwd"));
    let jbr = passwd
        .lines()
        .find(|l| l.starts_with("jbr:"))
        .expect("a jbr user");
    assert!(jbr.ends_with(":/var/lib/jbr:/usr/sbin/nologin"), "{jbr}");
    for d in expected_dirs() {
        let path = root.join(d.path.trim_start_matches('/'));
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{d:?}: {e}"));
        assert!(meta.is_dir(), "{d:?}");
        let mode = meta.mode() & 0o7777;
        assert!(mode == d.mode, "{d:?} wanted, mode {mode:04o} made");
        let uid = if d.user == "root" {
            0
        } else {
            id_in(root, "passwd", &d.user)
        };
        assert_eq!(
            (meta.uid(), meta.gid()),
            (uid, id_in(root, "group", &d.group)),
            "{d:?}"
        );
    }
}

#[test]
fn sysusers_and_tmpfiles_create_the_user_and_the_directories_on_an_empty_root() {
    let root = tempfile::tempdir().unwrap();
    for (source, dest) in [
        ("systemd/jbr.sysusers", "usr/lib/sysusers.d/jbr.conf"),
        ("systemd/jbr.tmpfiles", "usr/lib/tmpfiles.d/jbr.conf"),
    ] {
        let to = root.path().join(dest);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(source), to).unwrap();
    }
    install_user_and_dirs_on(root.path());
}

fn cargo_deb_available() -> bool {
    let ok = bin::Cmd::new("cargo").args(["deb", "--version"]).run().code == Some(0);
    if !ok {
        eprintln!(
            "skipped: cargo-deb is not installed (cargo install cargo-deb --locked); CI does not \
             install it, see README, \"Tests\""
        );
    }
    ok
}

/// `dpkg-deb -c`: the package's files (not its directories) and their modes.
fn files_in(deb: &Path) -> BTreeMap<String, u32> {
    let run = bin::Cmd::new("dpkg-deb").arg("-c").arg(deb).run();
    run.expect_success();
    run.stdout
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            // -rwxr-xr-x 0/0   1234 2026-12-02 00:00 ./usr/bin/jbr
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(["0/0", "root/root"].contains(&f[1]), "not root's: {l}");
            let mode = f[0][1..]
                .chars()
                .fold(0, |m, c| m << 1 | u32::from(c != '-'));
            (f[5].trim_start_matches("./").to_string(), mode)
        })
        .collect()
}

#[test]
fn the_deb_holds_exactly_the_files_and_scripts_it_should() {
    if !cargo_deb_available() {
        return;
    }
    // cargo deb --no-build, as scripts/package runs it after its release build; here on the
    // binary under test, stripped, in a target dir of our own.
    let target = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(target.path().join("release")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_jbr"), target.path().join("release/jbr")).unwrap();
    write_generated(&repo().join(GENERATED));
    let out = tempfile::tempdir().unwrap();
    bin::Cmd::new("cargo")
        .args([
            "deb",
            "--no-build",
            "--locked",
            "--offline",
            "--strip",
            "--fast",
            "--output",
        ])
        .arg(out.path())
        .env("CARGO_TARGET_DIR", target.path())
        .current_dir(repo())
        .run()
        .expect_success();
    let debs: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    let [deb] = &debs[..] else {
        panic!("cargo deb wrote {debs:?}");
    };

    // dpkg-deb -c: INSTALLS (the man page gzipped by cargo-deb) plus the copyright it writes.
    let mut wanted: BTreeMap<String, u32> = INSTALLS
        .iter()
        .map(|(d, m)| (d.replace("/man1/jbr.1", "/man1/jbr.1.gz"), *m))
        .collect();
    wanted.insert("usr/share/doc/jbr/copyright".into(), 0o644);
    let files = files_in(deb);
    let differ: Vec<String> = wanted
        .keys()
        .chain(files.keys().filter(|f| !wanted.contains_key(*f)))
        .filter(|f| wanted.get(*f) != files.get(*f))
        .map(|f| {
            let mode = |m: Option<&u32>| m.map_or("absent".into(), |m| format!("{m:o}"));
            format!(
                "{f}: {} in the .deb, {} wanted",
                mode(files.get(f)),
                mode(wanted.get(f))
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "dpkg-deb -c {}:\n{}",
        deb.display(),
        differ.join("\n")
    );

    // dpkg-deb -I: the control fields an operator and apt rely on.
    let info = bin::Cmd::new("dpkg-deb").arg("-I").arg(deb).run();
    info.expect_success();
    for field in [
        " Package: jbr\n",
        " Section: admin\n",
        " Priority: optional\n",
    ] {
        assert!(info.stdout.contains(field), "no {field:?} in:\n{info}");
    }
    let depends = info
        .stdout
        .lines()
        .find(|l| l.starts_with(" Depends: "))
        .unwrap_or("");
    for dep in ["libc6", "openssh-client (>= 1:7.6)"] {
        assert!(depends.contains(dep), "Depends lacks {dep}:\n{info}");
    }

    // The maintainer scripts: the user and directories at configure; the units recorded, never
    // enabled, started or restarted (that would start or abort a night's backups); stopped (jbr
    // cleans up on SIGTERM) only when the package is removed.
    let control = tempfile::tempdir().unwrap();
    let ctl = control.path().join("DEBIAN");
    bin::Cmd::new("dpkg-deb")
        .arg("-e")
        .arg(deb)
        .arg(&ctl)
        .run()
        .expect_success();
    for script in ["postinst", "prerm", "postrm"] {
        bin::Cmd::new("sh")
            .arg("-n")
            .arg(ctl.join(script))
            .run()
            .expect_success();
    }
    let postinst = read(&ctl.join("postinst"));
    let once = |needle: &str| {
        let n = postinst.lines().filter(|l| l.contains(needle)).count();
        assert_eq!(n, 1, "{needle:?} in {n} postinst lines, not 1:\n{postinst}");
    };
    once("systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} jbr.conf");
    once("systemd-tmpfiles --create jbr.conf");
    // debian/postinst's own: the new units read, since nothing below reloads.
    once("systemctl --system daemon-reload");
    assert!(
        !postinst.contains("deb-systemd-invoke"),
        "postinst starts a unit:\n{postinst}"
    );
    for unit in ["jbr.service", "jbr.timer", "jbr-daemon.service"] {
        // Enabled again on upgrade only if the operator had enabled it; never on install.
        once(&format!(
            "if deb-systemd-helper debian-installed {unit}; then"
        ));
    }
    let prerm = read(&ctl.join("prerm"));
    let stops: Vec<&str> = prerm
        .lines()
        .filter(|l| l.contains("deb-systemd-invoke"))
        .collect();
    assert!(
        !stops.is_empty()
            && stops
                .iter()
                .all(|l| l.trim().starts_with("deb-systemd-invoke stop ")),
        "{prerm}"
    );
    assert!(
        prerm.contains("if [ -d /run/systemd/system ] && [ \"$1\" = remove ]; then"),
        "prerm stops on upgrade:\n{prerm}"
    );

    // Installed: its own sysusers and tmpfiles files make the user and the directories.
    let root = tempfile::tempdir().unwrap();
    bin::Cmd::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(root.path())
        .run()
        .expect_success();
    install_user_and_dirs_on(root.path());
}

#[test]
fn the_shell_scripts_are_shellcheck_clean() {
    if !support::tools::available("shellcheck", "to lint scripts/ and debian/") {
        return;
    }
    let scripts = [
        "scripts/package",
        "scripts/test",
        ".ci/run",
        "debian/postinst",
    ];
    bin::Cmd::new("shellcheck")
        .args(scripts.map(|s| repo().join(s)))
        .run()
        .expect_success();
}
