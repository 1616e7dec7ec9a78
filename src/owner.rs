//! `-w user:group` (FreeBSD sbin/mdmfs/mdmfs.c, extract_ugid()): names or numeric ids, both required.
#![forbid(unsafe_code)]

/// Looks up names; the real one asks the password and group databases
/// ([`crate::host::SystemHost`]), tests give a fixed table.
pub trait IdLookup {
    fn uid_of(&self, name: &str) -> Option<u32>;
    fn gid_of(&self, name: &str) -> Option<u32>;
}

/// Why `-w` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerError {
    /// Not of the form `user:group` with both parts: mdmfs prints usage.
    Usage,
    /// `invalid user: %s` / `invalid group: %s`.
    Invalid(String),
}

/// Parses `-w`. Returns (uid, gid).
pub fn parse_owner<L: IdLookup + ?Sized>(arg: &str, ids: &L) -> Result<(u32, u32), OwnerError> {
    let (user, group) = arg.split_once(':').filter(|(u, g)| !u.is_empty() && !g.is_empty()).ok_or(OwnerError::Usage)?;
    let uid = resolve(user, |n| ids.uid_of(n)).ok_or_else(|| OwnerError::Invalid(format!("invalid user: {user}")))?;
    let gid =
        resolve(group, |n| ids.gid_of(n)).ok_or_else(|| OwnerError::Invalid(format!("invalid group: {group}")))?;
    Ok((uid, gid))
}

/// All digits → that id (which need not exist), but never (uid_t)-1, which
/// chown(2) reads as "leave unchanged", nor anything wider than 32 bits
/// (mdmfs would truncate it). Otherwise a name.
fn resolve(part: &str, lookup: impl Fn(&str) -> Option<u32>) -> Option<u32> {
    if part.bytes().all(|b| b.is_ascii_digit()) {
        return part.parse::<u32>().ok().filter(|v| *v != u32::MAX);
    }
    lookup(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table;
    impl IdLookup for Table {
        fn uid_of(&self, n: &str) -> Option<u32> {
            (n == "www").then_some(80)
        }
        fn gid_of(&self, n: &str) -> Option<u32> {
            (n == "wheel").then_some(0)
        }
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_owner("www:wheel", &Table), Ok((80, 0)));
        assert_eq!(parse_owner("1000:1000", &Table), Ok((1000, 1000)));
        assert_eq!(parse_owner("0:wheel", &Table), Ok((0, 0)));
        assert_eq!(parse_owner("4294967294:1", &Table), Ok((4294967294, 1)));
    }

    #[test]
    fn refused() {
        let invalid = |why: &str| Err(OwnerError::Invalid(why.into()));
        assert_eq!(parse_owner("www", &Table), Err(OwnerError::Usage));
        assert_eq!(parse_owner(":wheel", &Table), Err(OwnerError::Usage));
        assert_eq!(parse_owner("www:", &Table), Err(OwnerError::Usage));
        assert_eq!(parse_owner("nobodyhere:wheel", &Table), invalid("invalid user: nobodyhere"));
        assert_eq!(parse_owner("www:nogroup", &Table), invalid("invalid group: nogroup"));
        assert_eq!(parse_owner("4294967295:0", &Table), invalid("invalid user: 4294967295"));
        assert_eq!(parse_owner("0:99999999999", &Table), invalid("invalid group: 99999999999"));
        assert_eq!(parse_owner("12ab:0", &Table), invalid("invalid user: 12ab"));
    }
}
