//! Host tests of path resolution.
use super::*;
use std::string::String;

/// `resolve` into a buffer of `cap` bytes, as a String.
fn res_cap(cwd: &str, path: &str, cap: usize) -> Option<String> {
    let mut buf = std::vec![0u8; cap];
    let n = resolve(cwd, path, &mut buf)?;
    Some(String::from_utf8(buf[..n].to_vec()).unwrap())
}

fn res(cwd: &str, path: &str) -> String {
    res_cap(cwd, path, 1024).unwrap()
}

#[test]
fn relative_joins_the_cwd() {
    assert_eq!(res("/", "motd"), "/motd");
    assert_eq!(res("/d", "f"), "/d/f");
    assert_eq!(res("/d/e", "f/g"), "/d/e/f/g");
}

#[test]
fn absolute_ignores_the_cwd() {
    assert_eq!(res("/d", "/motd"), "/motd");
    assert_eq!(res("/d/e", "/"), "/");
}

#[test]
fn dot_and_dotdot() {
    assert_eq!(res("/d", "."), "/d");
    assert_eq!(res("/d", "./f"), "/d/f");
    assert_eq!(res("/d/e", ".."), "/d");
    assert_eq!(res("/d/e", "../f"), "/d/f");
    assert_eq!(res("/d/e", "../.."), "/");
    assert_eq!(res("/d", "x/../y"), "/d/y");
    assert_eq!(res("/d", "/x/../../.."), "/");
}

#[test]
fn dotdot_stops_at_the_root() {
    assert_eq!(res("/", ".."), "/");
    assert_eq!(res("/", "../../motd"), "/motd");
    assert_eq!(res("/d", "../../../d"), "/d");
}

#[test]
fn repeated_and_trailing_slashes() {
    assert_eq!(res("/", "//motd"), "/motd");
    assert_eq!(res("/d", "x//y/"), "/d/x/y");
    assert_eq!(res("/d", "x/./y/."), "/d/x/y");
    assert_eq!(res("/", "///"), "/");
}

#[test]
fn names_that_only_look_like_dots() {
    assert_eq!(res("/", "..."), "/...");
    assert_eq!(res("/", ".x/..y"), "/.x/..y");
}

#[test]
fn empty_path_is_the_cwd() {
    assert_eq!(res("/d/e", ""), "/d/e");
    assert_eq!(res("/", ""), "/");
}

#[test]
fn a_cwd_is_cleaned_too() {
    // Whatever a cwd holds, the result is clean and absolute.
    assert_eq!(res("d//e/", "f"), "/d/e/f");
    assert_eq!(res("", "f"), "/f");
    assert_eq!(res("/d/..", "f"), "/f");
}

#[test]
fn too_long_is_none() {
    // "/abc" is 4 bytes.
    assert_eq!(res_cap("/", "abc", 4).as_deref(), Some("/abc"));
    assert_eq!(res_cap("/", "abcd", 4), None);
    assert_eq!(res_cap("/ab", "c", 4), None);
    // A step on the way that does not fit, even if `..` would take it out.
    assert_eq!(res_cap("/", "abcdef/..", 4), None);
    // The root needs one byte.
    assert_eq!(res_cap("/", "", 0), None);
    assert_eq!(res_cap("/", "", 1).as_deref(), Some("/"));
}

#[test]
fn multibyte_names_are_kept() {
    assert_eq!(res("/", "é/ü"), "/é/ü");
    // `..` takes out a whole component, never part of a character.
    assert_eq!(res("/é", ".."), "/");
}

#[test]
fn dotdot_over_a_longer_name() {
    // The result is shorter than what was written on the way: its length
    // says where it ends (the bytes after it are stale).
    let mut buf = [0xffu8; 16];
    let n = resolve("/cwd", "../wc", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"/wc");
    assert_eq!(res("/cwd", "../wc"), "/wc");
}
