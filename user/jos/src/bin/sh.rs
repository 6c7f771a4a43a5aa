// make: FS=1
//! sh: JOS's shell (user/sh.c). Reads command lines from descriptor 0 and
//! runs them: `cmd args`, `< file`, `> file` (created or truncated),
//! `>> file` (appended), `a | b`, `a ; b`, `a &` (not waited for), quotes
//! (`'...'`, `"..."`). Programs are found in the root: `ls` runs `/ls`.
//! Lines starting with `#` are comments.
//!
//! `sh [-dix] [command-file]`: with a file, commands come from it; `-i`
//! forces the `$ ` prompt, which is otherwise shown only when descriptor 0
//! is the console; `-x` echoes each command (`# cmd`) to descriptor 1;
//! `-d` prints what the shell does (twice: more).
//!
//! As in JOS, each command line runs in a child forked for it, which sets
//! up pipes and redirections, spawns the programs, closes its descriptors
//! and waits for them; the shell waits for that child (unless `&`). The
//! grammar is `shparse`'s.
//!
//! Ctrl-C (interactive only: the shell is then the console's controller,
//! see `jos::job`): at the prompt it throws away the line being typed;
//! while the shell waits for a command line's child, it destroys that
//! child and every env below it (the whole pipeline), prints `^C` and
//! skips the rest of the line.
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::fsipc::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use jos::alloc::string::String;
use jos::alloc::vec::Vec;
use jos::args::Argstate;
use jos::cprintf;
use jos::env::{exit, thisenv_id, wait};
use jos::fd::{close, close_all, dup, fstat, seek};
use jos::file::open;
use jos::job::{JobEnd, take_console, wait_job};
use jos::readline::{BUFLEN, Input, LineEditor};
use shparse::{Command, Pipeline, RedirKind};

jos::main!(umain);

/// How chatty `-d` made us (JOS's `debug`).
static DEBUG: jos::cell::EnvCell<u32> = jos::cell::EnvCell::new(0);

fn debug() -> u32 {
    DEBUG.get()
}

fn usage() -> ! {
    cprintf!("usage: sh [-dix] [command-file]\n");
    exit();
}

fn umain(argv: &[&str]) {
    let mut interactive = None;
    let mut echocmds = false;
    let mut args = Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        match c {
            'd' => DEBUG.set(debug() + 1),
            'i' => interactive = Some(true),
            'x' => echocmds = true,
            _ => usage(),
        }
    }
    match args.rest() {
        [] => {}
        [file] => {
            let _ = close(0);
            match open(file, O_RDONLY) {
                Ok(0) => {}
                Ok(fd) => panic!("open {file}: got descriptor {fd}, not 0"),
                Err(e) => panic!("open {file}: {e}"),
            }
        }
        _ => usage(),
    }
    let interactive = interactive.unwrap_or_else(|| jos::console::iscons(0).unwrap_or(false));

    // The lines typed, for the up and down arrows.
    let mut editor = LineEditor::new();
    loop {
        if interactive {
            // Again at each prompt: an interactive shell run from this one
            // took the role and is gone now.
            take_console();
        }
        let line = match editor.read(if interactive { "$ " } else { "" }) {
            Input::Line(line) => line,
            Input::Interrupted => continue,
            Input::TooLong => {
                cprintf!("sh: line too long (max {} characters)\n", BUFLEN - 1);
                continue;
            }
            Input::End => {
                if debug() > 0 {
                    cprintf!("EXITING\n");
                }
                exit();
            }
        };
        if debug() > 0 {
            cprintf!("LINE: {}\n", line);
        }
        if line.starts_with('#') {
            continue;
        }
        if echocmds {
            jos::printf!("# {}\n", line);
        }
        let list = match shparse::parse(&line) {
            Ok(list) => list,
            Err(e) => {
                cprintf!("{}\n", e);
                continue;
            }
        };
        for pipeline in &list {
            if run_pipeline(pipeline) == JobEnd::Stopped {
                break;
            }
        }
    }
}

/// Runs one pipeline in a child of its own (JOS's fork before `runcmd`),
/// and waits for it unless it is to run in the background. Returns
/// `JobEnd::Stopped` if a Ctrl-C stopped it (after printing `^C`).
fn run_pipeline(pipeline: &Pipeline) -> JobEnd {
    if debug() > 0 {
        cprintf!("BEFORE FORK\n");
    }
    let child = match jos::fork() {
        Ok(c) => c,
        Err(e) => panic!("fork: {e}"),
    };
    if debug() > 0 {
        cprintf!("FORK: {}\n", child);
    }
    if child == 0 {
        runcmd(&pipeline.commands);
    }
    if pipeline.background {
        return JobEnd::Done;
    }
    let end = wait_job(child);
    if end == JobEnd::Stopped {
        cprintf!("^C\n");
    }
    end
}

/// Runs `cmds`, a pipeline, in this (forked) environment, and exits when
/// they are done (JOS's `runcmd`). For each `|`, a child is forked to run
/// the rest of the pipeline reading from the pipe while we run the command
/// on its left writing into it; each of us waits for its own command, and
/// then for the child on its right.
fn runcmd(cmds: &[Command]) -> ! {
    let mut pipe_child: Option<EnvId> = None;
    let mut cmds = cmds;
    while cmds.len() > 1 {
        let p = match jos::pipe::pipe() {
            Ok(p) => p,
            Err(e) => {
                cprintf!("pipe: {}\n", e);
                exit();
            }
        };
        if debug() > 0 {
            cprintf!("PIPE: {} {}\n", p[0], p[1]);
        }
        let r = match jos::fork() {
            Ok(r) => r,
            Err(e) => {
                cprintf!("fork: {}\n", e);
                exit();
            }
        };
        if r == 0 {
            // The right-hand side: reads the pipe.
            move_fd(p[0], 0);
            let _ = close(p[1]);
            cmds = &cmds[1..];
        } else {
            pipe_child = Some(r);
            move_fd(p[1], 1);
            let _ = close(p[0]);
            break;
        }
    }
    let cmd = &cmds[0];
    redirect(cmd);
    if !cmd.argv.is_empty() {
        spawn_and_wait(cmd);
    } else if debug() > 0 {
        cprintf!("EMPTY COMMAND\n");
    }
    close_all();
    if let Some(r) = pipe_child {
        if debug() > 0 {
            cprintf!("[{:08x}] WAIT pipe_child {:08x}\n", thisenv_id(), r);
        }
        wait(r);
        if debug() > 0 {
            cprintf!("[{:08x}] wait finished\n", thisenv_id());
        }
    }
    exit();
}

/// Makes `from` descriptor `to` (dup, then close `from`).
fn move_fd(from: usize, to: usize) {
    if from != to {
        let _ = dup(from, to);
        let _ = close(from);
    }
}

/// Carries out `cmd`'s redirections in order; exits after a message if a
/// file cannot be opened.
fn redirect(cmd: &Command) {
    for r in &cmd.redirs {
        let (mode, to, what) = match r.kind {
            RedirKind::Input => (O_RDONLY, 0, "read"),
            RedirKind::Output => (O_WRONLY | O_CREAT | O_TRUNC, 1, "write"),
            RedirKind::Append => (O_WRONLY | O_CREAT, 1, "append"),
        };
        let fd = match open(&r.path, mode) {
            Ok(fd) => fd,
            Err(e) => {
                cprintf!("open {} for {}: {}\n", r.path, what, e);
                exit();
            }
        };
        if r.kind == RedirKind::Append {
            let end = fstat(fd).map(|st| st.size).unwrap_or(0);
            let _ = seek(fd, end);
        }
        move_fd(fd, to);
    }
}

/// Spawns `cmd` (its program looked up in the root, as JOS's PATH=/), closes
/// our descriptors and waits for it.
fn spawn_and_wait(cmd: &Command) {
    let mut argv: Vec<&str> = cmd.argv.iter().map(String::as_str).collect();
    let path;
    if !argv[0].starts_with('/') {
        path = jos::alloc::format!("/{}", argv[0]);
        argv[0] = &path;
    }
    if debug() > 0 {
        cprintf!("[{:08x}] SPAWN:", thisenv_id());
        for a in &argv {
            cprintf!(" {}", a);
        }
        cprintf!("\n");
    }
    let r = jos::spawn::spawn(argv[0], &argv);
    if let Err(e) = r {
        cprintf!("spawn {}: {}\n", argv[0], e);
    }
    close_all();
    if let Ok(r) = r {
        if debug() > 0 {
            cprintf!("[{:08x}] WAIT {} {:08x}\n", thisenv_id(), argv[0], r);
        }
        wait(r);
        if debug() > 0 {
            cprintf!("[{:08x}] wait finished\n", thisenv_id());
        }
    }
}
