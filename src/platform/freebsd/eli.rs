//! The geli layer on an md unit, as `kern.geom.confxml` shows it: the ELI
//! class's provider named after the unit (sys/geom/eli/g_eli.c
//! `g_eli_create`: `g_new_providerf(gp, "%s%s", bpp->name, G_ELI_SUFFIX)`,
//! so `md3` gives `md3.eli`), its size and how many hold it open. `-u`,
//! `-r` and `--list` find the layer this way, by what the kernel holds;
//! the unit under it carries mount_md's mark, which is what makes the
//! layer mount_md's.
use super::geom::{blocks, parse_mode, tag};

/// An attached `.eli` provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EliProvider {
    /// `md3.eli`.
    pub name: String,
    /// `<mode>rXwYeZ</mode>`: a mount holds it open.
    pub access: Option<(u32, u32, u32)>,
}

/// What geli appends to the name of the provider it is attached on.
pub const SUFFIX: &str = ".eli";

/// The `.eli` providers on md units (`mdN.eli`) in a confxml document.
pub fn eli_providers(xml: impl AsRef<[u8]>) -> Vec<EliProvider> {
    let text = String::from_utf8_lossy(xml.as_ref());
    let Some(class) = blocks(&text, "<class id=", "</class>").find(|b| tag(b, "name") == Some("ELI")) else {
        return Vec::new();
    };
    let on_md = |name: &str| {
        let unit = name.strip_prefix("md").and_then(|n| n.strip_suffix(SUFFIX));
        unit.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    blocks(class, "<provider id=", "</provider>")
        .filter_map(|p| {
            let name = tag(p, "name").filter(|n| on_md(n))?;
            Some(EliProvider { name: name.to_string(), access: tag(p, "mode").and_then(parse_mode) })
        })
        .collect()
}

/// The provider among `layers` that geli attached on md unit `unit`
/// (`md3` gives `md3.eli`), if any.
pub fn on_unit(layers: &[EliProvider], unit: u32) -> Option<&EliProvider> {
    let name = format!("md{unit}{SUFFIX}");
    layers.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<mesh>
  <class id=\"0x1\">
    <name>MD</name>
    <geom id=\"0x2\"><class ref=\"0x1\"/><name>md3</name>
      <provider id=\"0x3\"><geom ref=\"0x2\"/><mode>r1w1e1</mode><name>md3</name><mediasize>67108864</mediasize></provider>
    </geom>
  </class>
  <class id=\"0x4\">
    <name>ELI</name>
    <geom id=\"0x5\"><class ref=\"0x4\"/><name>md3.eli</name>
      <consumer id=\"0x6\"><geom ref=\"0x5\"/><provider ref=\"0x3\"/><mode>r1w1e1</mode></consumer>
      <provider id=\"0x7\"><geom ref=\"0x5\"/><mode>r1w1e0</mode><name>md3.eli</name><mediasize>67104768</mediasize></provider>
    </geom>
  </class>
</mesh>";

    #[test]
    fn finds_the_eli_providers_on_md_units() {
        let all = eli_providers(XML);
        assert_eq!(all, [EliProvider { name: "md3.eli".into(), access: Some((1, 1, 0)) }]);
        assert_eq!((on_unit(&all, 3), on_unit(&all, 13)), (Some(&all[0]), None));
        assert_eq!(eli_providers("<mesh></mesh>"), []);
        let on_ada = XML.replace("md3.eli", "ada0p3.eli");
        assert_eq!(eli_providers(on_ada), [], "a layer on a disk that is no md unit");
    }
}
