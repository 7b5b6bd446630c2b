//! `jbr-sim`: behaves like `jetbackup5api` over a simulated server whose state lives in `$JBR_SIM_STATE`.

fn main() -> std::process::ExitCode {
    eprintln!("jbr-sim: not built yet");
    std::process::ExitCode::from(1)
}
