//! Just enough DER to read a certificate's subject: the common name and organizations that
//! Kubernetes' x509 authenticator turns into a user name and groups.
//!
//! Only certificates rustls has already verified against our CA reach this, but it is written
//! for any input: malformed DER gives `None`, never a panic.

/// The parts of a certificate subject the authenticator uses.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Subject {
    pub(crate) common_name: String,
    pub(crate) organizations: Vec<String>,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];

/// The subject of a DER certificate, or `None` when the DER does not parse.
pub(crate) fn subject(certificate: &[u8]) -> Option<Subject> {
    let (tag, certificate, _) = element(certificate)?;
    expect(tag, SEQUENCE)?;
    let (tag, tbs, _) = element(certificate)?;
    expect(tag, SEQUENCE)?;
    // TBSCertificate: version [0] (optional), serial, signature, issuer, validity, subject.
    let mut fields = tbs;
    let mut next = || -> Option<u8> {
        let (tag, _, rest) = element(fields)?;
        fields = rest;
        Some(tag)
    };
    let skip = if next()? == VERSION { 4 } else { 3 };
    for _ in 0..skip {
        next()?;
    }
    let (tag, mut name, _) = element(fields)?;
    expect(tag, SEQUENCE)?;

    let mut subject = Subject::default();
    while !name.is_empty() {
        let (tag, mut set, rest) = element(name)?;
        expect(tag, SET)?;
        name = rest;
        while !set.is_empty() {
            let (tag, attribute, rest) = element(set)?;
            expect(tag, SEQUENCE)?;
            set = rest;
            let (tag, oid, value) = element(attribute)?;
            expect(tag, OID)?;
            let (_, value, _) = element(value)?;
            let Ok(value) = std::str::from_utf8(value) else { continue };
            if oid == COMMON_NAME {
                subject.common_name = value.to_owned();
            } else if oid == ORGANIZATION {
                subject.organizations.push(value.to_owned());
            }
        }
    }
    Some(subject)
}

fn expect(tag: u8, wanted: u8) -> Option<()> {
    (tag == wanted).then_some(())
}

/// Splits one DER element off `input`: (tag, contents, what follows).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags appear nowhere in a certificate's outer structure
    }
    let (&first, mut input) = input.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let bytes = usize::from(first & 0x7f);
        if bytes == 0 || bytes > 4 {
            return None;
        }
        let (length, rest) = input.split_at_checked(bytes)?;
        input = rest;
        length.iter().fold(0usize, |total, byte| (total << 8) | usize::from(*byte))
    };
    let (contents, rest) = input.split_at_checked(length)?;
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[(rcgen::DnType, &str)]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in names {
            params.distinguished_name.push(kind.clone(), *value);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_common_name_and_organization() {
        let der = certificate(&[
            (rcgen::DnType::OrganizationName, "system:masters"),
            (rcgen::DnType::CommonName, "admin"),
        ]);
        let subject = subject(&der).unwrap();
        assert_eq!(subject.common_name, "admin");
        assert_eq!(subject.organizations, ["system:masters"]);
    }

    #[test]
    fn a_subject_without_names_is_empty() {
        assert_eq!(subject(&certificate(&[])).unwrap(), Subject::default());
    }

    #[test]
    fn malformed_input_is_none_at_every_truncation() {
        let der = certificate(&[(rcgen::DnType::CommonName, "admin")]);
        for cut in 0..der.len() {
            assert_eq!(subject(&der[..cut]), None, "cut at {cut}");
        }
        assert_eq!(subject(&[]), None);
        assert_eq!(subject(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(subject(&[0x30, 0x85, 0, 0, 0, 0, 1]), None);
    }
}
