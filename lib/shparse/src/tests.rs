//! Host tests of the grammar.

use super::*;
use std::string::ToString;
use std::vec;

fn words(line: &str) -> Vec<String> {
    tokenize(line)
        .unwrap()
        .into_iter()
        .map(|t| match t {
            Token::Word(w) => w,
            other => panic!("{other:?} in {line:?}"),
        })
        .collect()
}

fn cmd(argv: &[&str], redirs: &[(RedirKind, &str)]) -> Command {
    Command {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        redirs: redirs
            .iter()
            .map(|&(kind, p)| Redir {
                kind,
                path: p.to_string(),
            })
            .collect(),
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
    let w = |s: &str| Word(s.to_string());
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
    assert_eq!(tokenize("(x)").unwrap(), [Paren('('), w("x"), Paren(')')]);
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
    assert_eq!(parse("&"), Err(SyntaxError::Unexpected('&')));
    assert_eq!(parse("(ls)"), Err(SyntaxError::Unexpected('(')));
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
