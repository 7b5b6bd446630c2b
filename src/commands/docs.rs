//! `jbr man` and `jbr completions`: the man page and the shell completions, generated from the
//! clap definitions in `cli`, so that they say what `--help` says and cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Exit;

/// The roff man page, jbr(1): the whole command, then a section per subcommand with its long
/// help and its options.
pub fn man(out: &mut dyn Write) -> Exit {
    let cmd = Cli::command();
    let mut page = Vec::new();
    let rendered = clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .and_then(|()| {
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                let title = format!(".SH \"JBR {}\"\n", sub.get_name().to_uppercase());
                page.extend_from_slice(title.as_bytes());
                let man = clap_mangen::Man::new(sub.clone());
                man.render_description_section(&mut page)?;
                man.render_options_section(&mut page)?;
            }
            Ok(())
        });
    finish(rendered.map(|()| page), out, "man page")
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Exit {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "jbr", &mut script);
    finish(Ok(script), out, "completion script")
}

fn finish(bytes: std::io::Result<Vec<u8>>, out: &mut dyn Write, what: &str) -> Exit {
    match bytes.and_then(|b| out.write_all(&b).and_then(|()| out.flush())) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("jbr: cannot write the {what}: {e}");
            Exit::Usage
        }
    }
}
