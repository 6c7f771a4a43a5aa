//! The build script of every user-program package (user/jos, user/tools,
//! ...: `build = "../build.rs"`): links each program with user/user.ld (at
//! 0x800020).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-T{dir}/../user.ld");
    println!("cargo:rustc-link-arg-bins=--gc-sections");
    println!("cargo:rerun-if-changed=../user.ld");
}
