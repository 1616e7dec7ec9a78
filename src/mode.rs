//! `-p mode`: an octal mode or a symbolic one, read the way setmode(3) and
//! getmode(set, 0777) read it in mdmfs — symbolic clauses apply to a base
//! of `rwxrwxrwx`. Returns `None` for anything setmode(3) would refuse
//! (mdmfs then prints usage).
#![forbid(unsafe_code)]

const SETID: u32 = 0o6000;
const STICKY: u32 = 0o1000;
const USER: u32 = 0o4700;
const GROUP: u32 = 0o2070;
const OTHER: u32 = 0o0007;
const ALL_BITS: u32 = 0o7777;

/// Parses `-p`. `umask` is applied, as setmode(3) does, to clauses without
/// a `who` part (`+w`), never to explicit ones (`a+w`).
pub fn parse_mode(arg: &str, umask: u32) -> Option<u32> {
    if arg.as_bytes().first()?.is_ascii_digit() {
        // setmode(3): octal, all of it, and no bits beyond 07777.
        let v = u32::from_str_radix(arg, 8).ok()?;
        return (v <= ALL_BITS).then_some(v);
    }
    arg.split(',').try_fold(0o777, |mode, clause| apply_clause(clause, mode, umask))
}

/// One `[ugoa]*([+-=][rwxXstugo]*)+` clause.
fn apply_clause(clause: &str, mut mode: u32, umask: u32) -> Option<u32> {
    let mut chars = clause.chars().peekable();
    let mut who = 0u32;
    while let Some(&c) = chars.peek() {
        who |= match c {
            'u' => USER,
            'g' => GROUP,
            'o' => OTHER,
            'a' => USER | GROUP | OTHER,
            _ => break,
        };
        chars.next();
    }
    let (who, mask) = if who == 0 { (USER | GROUP | OTHER, !umask & ALL_BITS) } else { (who, ALL_BITS) };
    let mut saw_op = false;
    while let Some(op) = chars.next() {
        if !matches!(op, '+' | '-' | '=') {
            return None;
        }
        saw_op = true;
        let mut perm = 0u32;
        while let Some(&c) = chars.peek() {
            perm |= match c {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                // X: execute if it is a directory or anything has x; the
                // base 0777 always has x (getmode(set, 0777)).
                'X' if mode & 0o111 != 0 => 0o111,
                'X' => 0,
                's' => SETID,
                't' => STICKY,
                'u' => copy_class((mode & 0o700) >> 6),
                'g' => copy_class((mode & 0o070) >> 3),
                'o' => copy_class(mode & 0o007),
                _ => break,
            };
            chars.next();
        }
        // Sticky applies whatever the who; set-id bits follow the who.
        let bits = (perm & who) | (perm & STICKY);
        mode = match op {
            '+' => mode | (bits & mask),
            '-' => mode & !(bits & mask),
            _ => (mode & !(who & !STICKY)) | (bits & mask),
        };
    }
    saw_op.then_some(mode)
}

/// `u`, `g` or `o` as a permission: that class's rwx copied to all three.
fn copy_class(rwx: u32) -> u32 {
    rwx | (rwx << 3) | (rwx << 6)
}

#[cfg(test)]
mod tests {
    use super::parse_mode;

    /// Every mode up to 07777: tests/core/properties.rs
    /// (octal_modes_round_trip).
    #[test]
    fn octal_out_of_range() {
        assert_eq!(parse_mode("17777", 0), None);
        assert_eq!(parse_mode("0758", 0), None);
        assert_eq!(parse_mode("75x", 0), None);
    }

    #[test]
    fn symbolic_from_rwxrwxrwx() {
        assert_eq!(parse_mode("go-w", 0o022), Some(0o755));
        assert_eq!(parse_mode("o=", 0o022), Some(0o770));
        assert_eq!(parse_mode("u=rwx,g=rx,o=", 0), Some(0o750));
        assert_eq!(parse_mode("a=rx", 0), Some(0o555));
        assert_eq!(parse_mode("+t", 0o022), Some(0o1777));
        assert_eq!(parse_mode("o-rwx,+t", 0), Some(0o1770));
        assert_eq!(parse_mode("u+s", 0), Some(0o4777));
        assert_eq!(parse_mode("g=u", 0), Some(0o777));
        assert_eq!(parse_mode("go=u-w", 0), Some(0o755));
        // no who: the umask limits what '=' and '+' may set
        assert_eq!(parse_mode("=rx", 0o022), Some(0o555));
        assert_eq!(parse_mode("=rwx", 0o027), Some(0o750));
    }

    #[test]
    fn refused() {
        for s in ["", "u", "rw", "u+q", "z=r", "u+r,", ",", "a=r,,"] {
            assert_eq!(parse_mode(s, 0), None, "{s:?}");
        }
    }
}
