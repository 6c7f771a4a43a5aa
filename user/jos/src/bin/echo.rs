// make: FS=1
//! echo: prints its arguments, separated by spaces, and a newline
//! (JOS's user/echo.c); `echo -n ...` leaves out the newline.
#![no_std]
#![no_main]

use jos::alloc::string::String;

jos::main!(umain);

fn umain(argv: &[&str]) {
    let mut args = argv.get(1..).unwrap_or(&[]);
    let nflag = args.first() == Some(&"-n");
    if nflag {
        args = &args[1..];
    }
    // One write, so the line is not interleaved with other output.
    let mut line = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(a);
    }
    if !nflag {
        line.push('\n');
    }
    let _ = user::cli::write_all(1, line.as_bytes());
}
