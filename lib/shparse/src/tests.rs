//! Host tests of the grammar. `parse` here puts a line's pipelines,
//! commands and words together as the shell takes them apart (with
//! `check`, `next_pipeline`, `next_command`, `Tokens` and `Words`), so
//! the tests compare whole structures.

use super::*;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

#[derive(PartialEq, Eq, Debug)]
struct Command {
    argv: Vec<String>,
    redirs: Vec<(RedirKind, String)>,
}

#[derive(PartialEq, Eq, Debug)]
struct Pipeline {
    commands: Vec<Command>,
    background: bool,
}

fn tokenize(line: &str) -> Result<Vec<Token<'_>>, SyntaxError> {
    Tokens::new(line).collect()
}

/// The words of `line` (which has only words), quotes taken out.
fn words(line: &str) -> Vec<String> {
    let mut buf = [0u8; 1024];
    let mut w = Words::new(&mut buf);
    tokenize(line)
        .unwrap()
        .into_iter()
        .map(|t| match t {
            Token::Word(raw) => w.add(raw).unwrap().to_string(),
            other => panic!("{other:?} in {line:?}"),
        })
        .collect()
}

/// A command's words and redirections, as the shell's `runcmd` reads them.
fn command(text: &str) -> Command {
    let mut buf = [0u8; 1024];
    let mut w = Words::new(&mut buf);
    let mut c = Command {
        argv: Vec::new(),
        redirs: Vec::new(),
    };
    let mut toks = Tokens::new(text).map(Result::unwrap);
    while let Some(tok) = toks.next() {
        match (tok, tok.redir()) {
            (Token::Word(raw), _) => c.argv.push(w.add(raw).unwrap().to_string()),
            (_, Some(kind)) => match toks.next() {
                Some(Token::Word(raw)) => c.redirs.push((kind, w.add(raw).unwrap().to_string())),
                other => panic!("{other:?} after a redirection in {text:?}"),
            },
            (other, None) => panic!("{other:?} in the command {text:?}"),
        }
    }
    c
}

/// The line's pipelines, or its syntax error.
fn parse(line: &str) -> Result<Vec<Pipeline>, SyntaxError> {
    check(line)?;
    let mut list = Vec::new();
    let mut rest = line;
    while let Some((text, background, after)) = next_pipeline(rest) {
        let mut commands = Vec::new();
        let mut cmds = Some(text);
        while let Some(t) = cmds {
            let (c, more) = next_command(t);
            commands.push(command(c));
            cmds = more;
        }
        list.push(Pipeline {
            commands,
            background,
        });
        rest = after;
    }
    Ok(list)
}

fn cmd(argv: &[&str], redirs: &[(RedirKind, &str)]) -> Command {
    Command {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        redirs: redirs.iter().map(|&(k, p)| (k, p.to_string())).collect(),
    }
}

fn pipe(cmds: Vec<Command>, background: bool) -> Pipeline {
    Pipeline {
        commands: cmds,
        background,
    }
}

#[test]
fn words_and_spaces() {
    assert_eq!(
        words("  echo\thello   world \r\n"),
        ["echo", "hello", "world"]
    );
    assert!(words("").is_empty());
    assert!(words(" \t ").is_empty());
}

#[test]
fn symbols_end_words() {
    use Token::*;
    let w = Word;
    assert_eq!(
        tokenize("cat<in|num>out;a&b>>c").unwrap(),
        [
            w("cat"),
            Less,
            w("in"),
            Pipe,
            w("num"),
            Greater,
            w("out"),
            Semi,
            w("a"),
            Amp,
            w("b"),
            Append,
            w("c")
        ]
    );
    assert_eq!(tokenize("> >").unwrap(), [Greater, Greater]);
    assert_eq!(tokenize("(x)").unwrap(), [Paren("("), w("x"), Paren(")")]);
}

#[test]
fn quotes() {
    assert_eq!(
        words(r#"echo "hello   world" 'a|b;c'"#),
        ["echo", "hello   world", "a|b;c"]
    );
    assert_eq!(words(r#"a"b c"d"#), ["ab cd"]);
    assert_eq!(words(r#"'' """#), ["", ""]);
    assert_eq!(words(r#""say \"hi\" \\ \n""#), [r#"say "hi" \ \n"#]);
    assert_eq!(words(r#"'it''s' "it's""#), ["its", "it's"]);
    assert_eq!(words(r"a\ b \| \"), ["a b", "|", "\\"]);
    assert_eq!(tokenize("echo 'oops"), Err(SyntaxError::UnterminatedQuote));
    assert_eq!(
        tokenize("echo \"oops\\\""),
        Err(SyntaxError::UnterminatedQuote)
    );
}

#[test]
fn pipelines_and_lists() {
    use RedirKind::*;
    assert_eq!(parse("").unwrap(), []);
    assert_eq!(parse(" ; ;; ").unwrap(), []);
    assert_eq!(
        parse("echo hello world | cat").unwrap(),
        [pipe(
            vec![cmd(&["echo", "hello", "world"], &[]), cmd(&["cat"], &[])],
            false
        )]
    );
    assert_eq!(
        parse("cat < lorem | num > out; ls & lsfd -1 >> log;").unwrap(),
        [
            pipe(
                vec![
                    cmd(&["cat"], &[(Input, "lorem")]),
                    cmd(&["num"], &[(Output, "out")])
                ],
                false
            ),
            pipe(vec![cmd(&["ls"], &[])], true),
            pipe(vec![cmd(&["lsfd", "-1"], &[(Append, "log")])], false),
        ]
    );
    // Redirections anywhere in a command, kept in order.
    assert_eq!(
        parse("> a echo > b hi").unwrap(),
        [pipe(
            vec![cmd(&["echo", "hi"], &[(Output, "a"), (Output, "b")])],
            false
        )]
    );
    // A command of redirections only.
    assert_eq!(
        parse("> f").unwrap(),
        [pipe(vec![cmd(&[], &[(Output, "f")])], false)]
    );
}

#[test]
fn syntax_errors() {
    assert_eq!(parse("cat <"), Err(SyntaxError::RedirNoWord("<")));
    assert_eq!(parse("cat > | x"), Err(SyntaxError::RedirNoWord(">")));
    assert_eq!(parse("cat >> ;"), Err(SyntaxError::RedirNoWord(">>")));
    assert_eq!(parse("| wc"), Err(SyntaxError::EmptyPipe));
    assert_eq!(parse("ls |"), Err(SyntaxError::EmptyPipe));
    assert_eq!(parse("ls | | wc"), Err(SyntaxError::EmptyPipe));
    assert_eq!(parse("ls | ; wc"), Err(SyntaxError::EmptyPipe));
    assert_eq!(parse("&"), Err(SyntaxError::Unexpected("&")));
    assert_eq!(parse("(ls)"), Err(SyntaxError::Unexpected("(")));
    assert_eq!(parse("echo 'x"), Err(SyntaxError::UnterminatedQuote));
    let many = "w ".repeat(MAXARGS);
    assert_eq!(parse(&many).unwrap()[0].commands[0].argv.len(), MAXARGS);
    assert_eq!(parse(&(many + "w")), Err(SyntaxError::TooManyArgs));
    // The messages JOS prints.
    assert_eq!(
        SyntaxError::RedirNoWord("<").to_string(),
        "syntax error: < not followed by word"
    );
    assert_eq!(SyntaxError::TooManyArgs.to_string(), "too many arguments");
}

#[test]
fn words_fit_their_buffer() {
    // Quotes only take bytes out: a word never needs more than it had.
    let mut buf = [0u8; 6];
    let mut w = Words::new(&mut buf);
    assert_eq!(w.add("'a b'"), Some("a b"));
    assert_eq!(w.add(r#""c\\d""#), Some("c\\d"));
    assert_eq!(w.add("x"), None);
    assert_eq!(unquote("", &mut []), Some(0));
    // The raw word keeps its quotes; the pipeline its text.
    assert_eq!(
        tokenize("'a;b' c").unwrap(),
        [Token::Word("'a;b'"), Token::Word("c")]
    );
    assert_eq!(next_pipeline(" a | b & c"), Some((" a | b", true, " c")));
    assert_eq!(next_command("a | b "), ("a", Some(" b ")));
    assert_eq!(
        SyntaxError::Unexpected(")").to_string(),
        "syntax error: unexpected )"
    );
}
