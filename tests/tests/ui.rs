//! Compile-time behaviour of the macros: every promised handler shape
//! compiles without warnings (`ui/pass`), every misuse is one precise error
//! (`ui/fail`, with the expected compiler output beside each case).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
