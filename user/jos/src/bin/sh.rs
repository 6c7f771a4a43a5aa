// make: FS=1
//! sh: JOS's shell (user/sh.c). Reads command lines from descriptor 0 and
//! runs them: `cmd args`, `< file`, `> file` (created or truncated),
//! `>> file` (appended), `a | b`, `a ; b`, `a &` (not waited for), quotes
//! (`'...'`, `"..."`). Programs are found in the root: `ls` runs `/ls`
//! (a name with a `/` in it, `./prog` or `d/prog`, is a path from the
//! current directory). Lines starting with `#` are comments.
//!
//! Built-in commands (see `BUILTINS`): `cd [dir]`, `pwd`, `exit`, `help`.
//! `cd` and `exit` change the shell itself, so a line that is one of them
//! alone is run by the shell (not in a child); in a pipeline or with `&`
//! they run in the pipeline's child, as in Unix, and change nothing here.
//! `pwd` and `help` print, so they run in the child, after its
//! redirections (`pwd > f`, `help | grep cd`).
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
//! As JOS's shell, this one uses no heap (and so links no allocator): the
//! line is read into a buffer on the stack, the history and `help`'s list
//! are statics, `shparse` cuts the line into slices of itself, and a
//! command's words, their quotes taken out, go into a buffer on the stack
//! of the child that runs it.
//!
//! Ctrl-C (interactive only: the shell is then the console's controller,
//! taking the role at each prompt and before each job, see `jos::job`): at
//! the prompt it throws away the line being typed;
//! while the shell waits for a command line's child, it destroys that
//! child and every env below it (the whole pipeline), prints `^C` and
//! skips the rest of the line.
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::fsipc::{MAXNAMELEN, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use jos::args::Argstate;
use jos::cell::EnvCell;
use jos::cprintf;
use jos::env::{exit, thisenv_id, wait};
use jos::fd::{close, close_all, dup, fstat, seek};
use jos::file::open;
use jos::job::{JobEnd, take_console, wait_job};
use jos::readline::{BUFLEN, History, Input, read_line};
use shparse::{MAXARGS, RedirKind, Token, Tokens, Words};

jos::main!(umain);

/// How chatty `-d` made us (JOS's `debug`).
static DEBUG: EnvCell<u32> = EnvCell::new(0);

/// The lines typed, for the up and down arrows (5 KB: a static, as the
/// stack is one page).
static HISTORY: EnvCell<History> = EnvCell::new(History::new());

/// The shell's two buffers (JOS's `buf` in readline and the words of
/// `runcmd`), in a static, as the stack is one page.
struct Buffers {
    /// The line read.
    line: [u8; BUFLEN],
    /// The words of the command being run, their quotes taken out.
    words: [u8; BUFLEN],
}

/// The shell runs inside `BUFFERS.with`, from its first line to `exit`;
/// nothing it calls uses `BUFFERS` again.
static BUFFERS: EnvCell<Buffers> = EnvCell::new(Buffers {
    line: [0; BUFLEN],
    words: [0; BUFLEN],
});

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
    BUFFERS.with(|b| shell(interactive, echocmds, b));
}

/// Reads command lines and runs them until the end of the input (or
/// `exit`), with the buffers `b`.
fn shell(interactive: bool, echocmds: bool, b: &mut Buffers) -> ! {
    loop {
        if interactive {
            // Again at each prompt: an interactive shell run from this one
            // took the role and is gone now.
            take_console();
        }
        let prompt = if interactive { "$ " } else { "" };
        let n = match HISTORY.with(|h| read_line(prompt, &mut b.line, Some(h))) {
            Input::Line(n) => n,
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
        // (Printable ASCII only: read_line keeps nothing else.)
        let line = core::str::from_utf8(&b.line[..n]).unwrap_or_default();
        if debug() > 0 {
            cprintf!("LINE: {}\n", line);
        }
        if line.starts_with('#') {
            continue;
        }
        if echocmds {
            jos::printf!("# {}\n", line);
        }
        if let Err(e) = shparse::check(line) {
            cprintf!("{}\n", e);
            continue;
        }
        let mut rest = line;
        while let Some((pipeline, background, after)) = shparse::next_pipeline(rest) {
            if interactive {
                // Before each job too: one run before it on this line (an
                // interactive `sh`, in `sh; spin`) may have taken the role.
                take_console();
            }
            if run_pipeline(pipeline, background, &mut b.words) == JobEnd::Stopped {
                break;
            }
            rest = after;
        }
    }
}

/// Runs one pipeline (its text) in a child of its own (JOS's fork before
/// `runcmd`), and waits for it unless it is to run in the `background` (a
/// built-in that changes the shell itself, `cd` or `exit` alone, runs
/// here). `words` is room for a command's words. Returns
/// `JobEnd::Stopped` if a Ctrl-C stopped it (after printing `^C`).
fn run_pipeline(pipeline: &str, background: bool, words: &mut [u8; BUFLEN]) -> JobEnd {
    if !background
        && shparse::next_command(pipeline).1.is_none()
        && builtin_in_shell(pipeline, words)
    {
        return JobEnd::Done;
    }
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
        runcmd(pipeline, words);
    }
    if background {
        return JobEnd::Done;
    }
    let end = wait_job(child);
    if end == JobEnd::Stopped {
        cprintf!("^C\n");
    }
    end
}

/// Reads command `cmd` (its text): its words, quotes taken out into
/// `words`, go into `argv` (the number is returned), and each redirection
/// is handed to `redir` in the order written. The line passed
/// `shparse::check`, so a redirection has its word and `argv` is big
/// enough.
fn read_command<'b>(
    cmd: &str,
    words: &mut Words<'b>,
    argv: &mut [&'b str; MAXARGS],
    mut redir: impl FnMut(RedirKind, &'b str),
) -> usize {
    let mut argc = 0;
    let mut toks = Tokens::new(cmd).map_while(Result::ok);
    while let Some(tok) = toks.next() {
        match (tok, tok.redir()) {
            (Token::Word(w), _) => {
                if let (Some(slot), Some(w)) = (argv.get_mut(argc), words.add(w)) {
                    *slot = w;
                    argc += 1;
                }
            }
            (_, Some(kind)) => {
                if let Some(Token::Word(w)) = toks.next() {
                    redir(kind, words.add(w).unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    argc
}

/// Runs pipeline `pipeline` (its text) in this (forked) environment, and
/// exits when it is done (JOS's `runcmd`). For each `|`, a child is forked
/// to run the rest of the pipeline reading from the pipe while we run the
/// command on its left writing into it; each of us waits for its own
/// command, and then for the child on its right. `words` is room for the
/// command's words.
fn runcmd(pipeline: &str, words: &mut [u8; BUFLEN]) -> ! {
    let mut pipe_child: Option<EnvId> = None;
    let mut text = pipeline;
    let cmd = loop {
        let (cmd, Some(rest)) = shparse::next_command(text) else {
            break text;
        };
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
            text = rest;
        } else {
            pipe_child = Some(r);
            move_fd(p[1], 1);
            let _ = close(p[0]);
            break cmd;
        }
    };
    let mut words = Words::new(words);
    let mut argv = [""; MAXARGS];
    let argc = read_command(cmd, &mut words, &mut argv, redirect);
    let argv = &argv[..argc];
    if !argv.is_empty() {
        if !builtin(argv) {
            spawn_and_wait(argv);
        }
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

/// Carries out one redirection, `kind` of `path`; exits after a message
/// if the file cannot be opened.
fn redirect(kind: RedirKind, path: &str) {
    let (mode, to, what) = match kind {
        RedirKind::Input => (O_RDONLY, 0, "read"),
        RedirKind::Output => (O_WRONLY | O_CREAT | O_TRUNC, 1, "write"),
        RedirKind::Append => (O_WRONLY | O_CREAT, 1, "append"),
    };
    let fd = match open(path, mode) {
        Ok(fd) => fd,
        Err(e) => {
            cprintf!("open {} for {}: {}\n", path, what, e);
            exit();
        }
    };
    if kind == RedirKind::Append {
        let end = fstat(fd).map(|st| st.size).unwrap_or(0);
        let _ = seek(fd, end);
    }
    move_fd(fd, to);
}

/// Spawns `argv` (its program looked up in the root, as JOS's PATH=/, if
/// its name has no `/`: `argv[0]` becomes `/name`; else the path from the
/// current directory), closes our descriptors and waits for it. Not
/// inlined: `spawn`'s buffers are on the stack only while it runs (the
/// stack is one page, and `help` runs from the same place).
#[inline(never)]
fn spawn_and_wait(args: &[&str]) {
    let mut path = [b'/'; MAXNAMELEN];
    let mut argv = [""; MAXARGS];
    let argv = &mut argv[..args.len()];
    argv.copy_from_slice(args);
    let name = argv[0];
    if !name.contains('/')
        && let Some(to) = path.get_mut(1..name.len() + 1)
    {
        to.copy_from_slice(name.as_bytes());
        argv[0] = core::str::from_utf8(&path[..name.len() + 1]).unwrap_or(name);
    }
    if debug() > 0 {
        cprintf!("[{:08x}] SPAWN:", thisenv_id());
        for a in argv.iter() {
            cprintf!(" {}", a);
        }
        cprintf!("\n");
    }
    let r = jos::spawn::spawn(argv[0], argv);
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

// The built-in commands.

/// Each built-in's usage and what it does (`help`'s lines); `builtin`
/// runs them.
const BUILTINS: &str = concat!(
    "  cd [dir]   change the current directory (no dir: /)\n",
    "  pwd        print the current directory\n",
    "  exit       leave the shell (JOS has no exit status)\n",
    "  help       list the built-ins and the programs in /\n",
);

/// Runs command `cmd` (its text) in the shell itself if it is `cd` or
/// `exit` (which change the shell), its words put in `words`. Returns
/// whether it was one.
/// Redirections make no sense for them: refused with a message (nothing
/// is run).
fn builtin_in_shell(cmd: &str, words: &mut [u8; BUFLEN]) -> bool {
    let mut words = Words::new(words);
    let mut argv = [""; MAXARGS];
    let mut redirs = false;
    let argc = read_command(cmd, &mut words, &mut argv, |_, _| redirs = true);
    if !matches!(argv[..argc].first(), Some(&("cd" | "exit"))) {
        return false;
    }
    if redirs {
        cprintf!("sh: {}: a built-in takes no redirections\n", argv[0]);
        return true;
    }
    builtin(&argv[..argc])
}

/// Runs `args` if it names a built-in; returns whether it did. Messages go
/// to the console, output to descriptor 1.
fn builtin(args: &[&str]) -> bool {
    match args {
        ["cd"] => cd("/"),
        ["cd", dir] => cd(dir),
        ["cd", ..] => cprintf!("usage: cd [dir]\n"),
        ["pwd"] => jos::cwd::with_cwd(|dir| jos::printf!("{}\n", dir)),
        ["pwd", ..] => cprintf!("usage: pwd\n"),
        ["exit", ..] => {
            if debug() > 0 {
                cprintf!("EXITING\n");
            }
            exit();
        }
        ["help", ..] => help(),
        _ => return false,
    }
    true
}

/// `cd dir`: makes `dir` the current directory, or says why not (it does
/// not exist, or is a file) and stays where we are.
fn cd(dir: &str) {
    match jos::fd::stat(dir) {
        Ok(st) if !st.isdir => cprintf!("cd: {}: not a directory\n", dir),
        Ok(_) => {
            if let Err(e) = jos::cwd::chdir(dir) {
                cprintf!("cd: {}: {}\n", dir, e);
            }
        }
        Err(e) => cprintf!("cd: {}: {}\n", dir, e),
    }
}

/// `help`'s list of programs: their names one after the other in `text`,
/// `names` saying where each one is (start, length). 8 KB, so a static
/// (in the child that runs `help`).
struct Programs {
    text: [u8; 6144],
    used: usize,
    names: [(u16, u16); 512],
    count: usize,
}

impl Programs {
    /// Name `i`.
    fn name(&self, i: usize) -> &[u8] {
        let (start, len) = self.names[i];
        &self.text[start as usize..(start + len) as usize]
    }
}

static PROGRAMS: EnvCell<Programs> = EnvCell::new(Programs {
    text: [0; 6144],
    used: 0,
    names: [(0, 0); 512],
    count: 0,
});

/// `help`: the built-ins, a line each, the command-line syntax, and the
/// programs in `/` (its files that start as an ELF executable does),
/// sorted, in columns. Not inlined: its buffers are on the stack only
/// while it runs.
#[inline(never)]
fn help() {
    jos::printf!(
        "Built-in commands:\n{}Command lines: prog args, < in, > out, >> out, a | b, a ; b, a &, 'quoted', \"quoted\"\nPrograms in /:\n",
        BUILTINS
    );
    PROGRAMS.with(|p| {
        find_programs(p);
        // An insertion sort: a hundred-odd names, and no scratch space.
        for i in 1..p.count {
            let mut j = i;
            while j > 0 && p.name(j - 1) > p.name(j) {
                p.names.swap(j - 1, j);
                j -= 1;
            }
        }
        // Columns as wide as the longest name, as many as fit in 80.
        let width = (0..p.count).map(|i| p.name(i).len()).max().unwrap_or(0) + 2;
        let per_row = (78 / width).max(1);
        let mut line = [b' '; 160];
        for row in (0..p.count).step_by(per_row) {
            let mut n = 0;
            for i in row..p.count.min(row + per_row) {
                let name = p.name(i);
                line[n..n + 2 + width].fill(b' ');
                line[n + 2..n + 2 + name.len()].copy_from_slice(name);
                n += 2 + if i + 1 < p.count.min(row + per_row) {
                    width
                } else {
                    name.len()
                };
            }
            line[n] = b'\n';
            let _ = jos::fd::write(1, &line[..n + 1]);
        }
    });
}

/// Fills `p` with the names of the programs in `/`: its regular files
/// whose first bytes are the ELF magic number. A directory that cannot be
/// read gives what was read (after a message); names that do not fit are
/// left out.
fn find_programs(p: &mut Programs) {
    use josfs::{FILE_SIZE, File};
    let fd = match open("/", O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => {
            cprintf!("help: open /: {}\n", e);
            return;
        }
    };
    let mut rec = [0u8; FILE_SIZE];
    while let Ok(FILE_SIZE) = jos::fd::readn(fd, &mut rec) {
        let f = File::from_bytes(&rec);
        let name = f.name();
        if f.is_free() || f.is_dir() || p.count == p.names.len() || !is_program(name) {
            continue;
        }
        if let Some(to) = p.text.get_mut(p.used..p.used + name.len()) {
            to.copy_from_slice(name);
            p.names[p.count] = (p.used as u16, name.len() as u16);
            p.used += name.len();
            p.count += 1;
        }
    }
    let _ = close(fd);
}

/// Whether the file `/name` starts with the ELF magic number (what
/// `spawn` checks first). A name that is not UTF-8 cannot be opened by a
/// &str path: not a program.
fn is_program(name: &[u8]) -> bool {
    let mut path = [b'/'; MAXNAMELEN + 1];
    let Some(to) = path.get_mut(1..name.len() + 1) else {
        return false;
    };
    to.copy_from_slice(name);
    let Ok(path) = core::str::from_utf8(&path[..name.len() + 1]) else {
        return false;
    };
    let Ok(fd) = open(path, O_RDONLY) else {
        return false;
    };
    let mut magic = [0u8; 4];
    let r = jos::fd::readn(fd, &mut magic);
    let _ = close(fd);
    r == Ok(4) && magic == *b"\x7fELF"
}
