//! `jbr validate`: offline config check, every problem with its JSON path.

use crate::exit::Exit;

pub fn run(_config_path: &std::path::Path, _json: bool) -> Exit {
    eprintln!("jbr: validate is not built yet");
    Exit::Usage
}
