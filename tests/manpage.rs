//! The man page lists exactly the options the parser accepts.
use mount_md::cli::{mdmfs, release};
use std::collections::BTreeSet;

fn option_list() -> (BTreeSet<char>, BTreeSet<String>) {
    let page = include_str!("../man/mount_md.8");
    let start = page.find("The options are as follows:").expect("option list");
    let end = start + page[start..].find("\n.El\n").expect("end of option list");
    let mut short = BTreeSet::new();
    let mut long = BTreeSet::new();
    for line in page[start..end].lines() {
        if let Some(rest) = line.strip_prefix(".It Fl Fl ") {
            long.insert(rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '-').next().unwrap().to_string());
        } else if let Some(rest) = line.strip_prefix(".It Fl ") {
            short.insert(rest.chars().next().unwrap());
        }
    }
    (short, long)
}

#[test]
fn man_page_options_match_the_parser() {
    let (short, long) = option_list();
    let mut want: BTreeSet<char> = mdmfs::SPEC.chars().filter(|c| *c != ':').collect();
    want.extend(release::SPEC.chars().filter(|c| *c == 'u'));
    assert_eq!(short, want, "man page .It Fl entries vs getopt strings");
    let want_long: BTreeSet<String> = mdmfs::LONGS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(long, want_long);
}

#[test]
fn synopsis_names_every_option_too() {
    let page = include_str!("../man/mount_md.8");
    let synopsis = &page[page.find(".Sh SYNOPSIS").unwrap()..page.find(".Sh DESCRIPTION").unwrap()];
    let flags: String = synopsis.lines().filter_map(|l| l.strip_prefix(".Op Fl ")).collect::<Vec<_>>().join(" ");
    for c in mdmfs::SPEC.chars().filter(|c| *c != ':') {
        assert!(flags.contains(c), "-{c} missing from SYNOPSIS");
    }
}
