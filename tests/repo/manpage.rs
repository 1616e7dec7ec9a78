//! The man page lists exactly the options of the flag table
//! (`mount_md::cli::flags::FLAGS`), from which the parser's getopt strings
//! and the usage text are generated.
use mount_md::cli::flags::{self, FLAGS};
use std::collections::BTreeSet;

/// Parsed and validated, but documented by the branches that implement
/// them (grow and list, fsck, direct I/O): each entry goes when its
/// option enters the man page.
const NOT_YET_IN_THE_MAN_PAGE: &[&str] = &["--list", "--json", "--all", "--bytes"];

fn option_list() -> BTreeSet<String> {
    let page = include_str!("../../man/mount_md.8");
    let start = page.find("The options are as follows:").expect("option list");
    let end = start + page[start..].find("\n.El\n").expect("end of option list");
    let mut names = BTreeSet::new();
    for line in page[start..end].lines() {
        if let Some(rest) = line.strip_prefix(".It Fl Fl ") {
            names.insert(format!(
                "--{}",
                rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).next().unwrap()
            ));
        } else if let Some(rest) = line.strip_prefix(".It Fl ") {
            names.insert(format!("-{}", rest.chars().next().unwrap()));
        }
    }
    names
}

fn table() -> BTreeSet<String> {
    FLAGS.iter().map(|f| f.name()).filter(|n| !NOT_YET_IN_THE_MAN_PAGE.contains(&n.as_str())).collect()
}

#[test]
fn man_page_options_match_the_flag_table() {
    assert_eq!(option_list(), table(), "man page .It Fl entries vs cli::flags::FLAGS");
}

#[test]
fn synopsis_names_every_option_too() {
    let page = include_str!("../../man/mount_md.8");
    let synopsis = &page[page.find(".Sh SYNOPSIS").unwrap()..page.find(".Sh DESCRIPTION").unwrap()];
    let flags_text: String = synopsis
        .lines()
        .filter_map(|l| l.strip_prefix(".Op Fl ").or_else(|| l.strip_prefix(".Fl ")))
        .collect::<Vec<_>>()
        .join(" ");
    for c in flags::spec(flags::Mode::Mount).chars().filter(|c| *c != ':') {
        assert!(flags_text.contains(c), "-{c} missing from SYNOPSIS");
    }
    for name in table() {
        let bare = name.trim_start_matches('-');
        assert!(flags_text.contains(bare), "{name} missing from SYNOPSIS");
    }
}

#[test]
fn exit_status_section_names_every_code() {
    let page = include_str!("../../man/mount_md.8");
    let section = &page[page.find(".Sh EXIT STATUS").unwrap()..page.find(".Sh EXAMPLES").unwrap()];
    for code in ["0", "1", "2", "32"] {
        assert!(section.contains(&format!(".It {code}")), "exit status {code} not in EXIT STATUS");
    }
}
