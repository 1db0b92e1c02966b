//! The server's PKI under `DIR/pki/` and the admin kubeconfig at `DIR/kubeconfig.yaml`.
//!
//! First start: a CA, a serving certificate, an admin client certificate (CN=admin,
//! O=system:masters), an admin bearer token and the service-account signing key (`sa.key`,
//! ECDSA P-256, PKCS#8) are generated into `DIR/pki.partial/`, which is then renamed to
//! `DIR/pki/`, so a crash never leaves half a PKI behind. Later starts load them. The CA is
//! never regenerated: every kubeconfig handed out trusts it, so a missing or damaged CA file is
//! an error naming the file. Nor is the signing key once it exists (every token issued is
//! signed with it): a damaged one is an error; only a PKI from before service-account tokens,
//! which has none, gets one at its next start. The serving and admin certificates are derived
//! from the CA and are reissued when missing, when they no longer verify (the listen address
//! is not in the serving certificate's SANs) or when they expire within [`RENEW_BEFORE`]. A
//! file that exists but does not parse is an error, never silently replaced.
//!
//! Files are written whole (temporary file, fsync, rename); keys and the token are 0600.
//! This is synchronous file IO and key generation, done once at startup.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;

use crate::Error;
use crate::tokens::SigningKey;

const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVER_CERT: &str = "server.crt";
const SERVER_KEY: &str = "server.key";
const ADMIN_CERT: &str = "admin.crt";
const ADMIN_KEY: &str = "admin.key";
const ADMIN_TOKEN: &str = "admin.token";
const SERVICE_ACCOUNT_KEY: &str = "sa.key";

/// How long the CA is valid.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long serving and client certificates are valid.
const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates expiring sooner than this are reissued at startup.
const RENEW_BEFORE: Duration = Duration::from_secs(90 * 24 * 3600);
/// Backdating, for clocks a little behind ours.
const BACKDATE: Duration = Duration::from_secs(3600);

/// The loaded PKI: what the TLS server and the kubeconfig need.
pub(crate) struct Pki {
    /// The CA certificate, the trust root for clients and for client certificates.
    pub(crate) ca: CertificateDer<'static>,
    pub(crate) server_cert: CertificateDer<'static>,
    pub(crate) server_key: PrivateKeyDer<'static>,
    admin_cert: CertificateDer<'static>,
    admin_key: String,
    /// The admin bearer token.
    pub(crate) admin_token: String,
    /// Signs and verifies service-account tokens.
    pub(crate) service_account_key: SigningKey,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

impl Pki {
    /// The CA as a rustls root store.
    pub(crate) fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        // Parsed and added once already in `load`, so this cannot fail.
        let _ = roots.add(self.ca.clone());
        roots
    }
}

/// Loads the PKI in `data_dir/pki`, creating or renewing what it may (see the module docs).
pub(crate) fn prepare(
    data_dir: &Path,
    listen: IpAddr,
    provider: &Arc<CryptoProvider>,
) -> Result<Pki, Error> {
    let dir = data_dir.join("pki");
    if !exists(&dir)? {
        create_ca(data_dir, &dir)?;
    }
    let ca_key_path = dir.join(CA_KEY);
    let ca_cert_path = dir.join(CA_CERT);
    let ca_key = KeyPair::from_pem(&read_text(&ca_key_path, &dir)?)
        .map_err(|source| corrupt(&ca_key_path, "private key", source))?;
    let ca = CertificateDer::from_pem_slice(read_text(&ca_cert_path, &dir)?.as_bytes())
        .map_err(|source| corrupt(&ca_cert_path, "certificate", source))?;
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).map_err(|source| corrupt(&ca_cert_path, "CA certificate", source))?;
    let roots = Arc::new(roots);
    let issuer = Issuer::from_ca_cert_der(&ca, ca_key)
        .map_err(|source| corrupt(&ca_cert_path, "CA certificate", source))?;
    let mismatch =
        |source| Error::CaMismatch { key: ca_key_path.clone(), cert: ca_cert_path.clone(), source };

    // The serving certificate, checked for the address clients dial.
    let dialed = dial_ip(listen);
    let server_verifier =
        WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|source| Error::Verifier { source })?;
    let verify_server = |cert: &CertificateDer<'_>, at: UnixTime| {
        server_verifier
            .verify_server_cert(cert, &[], &ServerName::IpAddress(dialed.into()), &[], at)
            .map(drop)
    };
    let (server_cert, server_key) = leaf(
        &dir,
        SERVER_CERT,
        SERVER_KEY,
        "serving",
        &verify_server,
        || {
            let mut params = leaf_params("berth")?;
            params.subject_alt_names = server_sans(listen)?;
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            Ok(params)
        },
        &issuer,
    )
    .map_err(|error| error.or_mismatch(mismatch))?;

    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|source| Error::Verifier { source })?;
    let verify_client = |cert: &CertificateDer<'_>, at: UnixTime| {
        client_verifier.verify_client_cert(cert, &[], at).map(drop)
    };
    let (admin_cert, admin_key) = leaf(
        &dir,
        ADMIN_CERT,
        ADMIN_KEY,
        "admin client",
        &verify_client,
        || {
            let mut params = leaf_params("admin")?;
            params.distinguished_name.push(DnType::OrganizationName, "system:masters");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            Ok(params)
        },
        &issuer,
    )
    .map_err(|error| error.or_mismatch(mismatch))?;

    let admin_token = token(&dir, provider)?;
    let service_account_key = service_account_key(&dir)?;
    let server_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    Ok(Pki {
        ca,
        server_cert,
        server_key,
        admin_cert,
        admin_key: admin_key.serialize_pem(),
        admin_token,
        service_account_key,
    })
}

/// Loads `sa.key`; writes a new one only where there is none (a PKI from before tokens).
fn service_account_key(dir: &Path) -> Result<SigningKey, Error> {
    let path = dir.join(SERVICE_ACCOUNT_KEY);
    if !exists(&path)? {
        write_service_account_key(&path)?;
        tracing::info!(path = %path.display(), "created the service account signing key");
    }
    let what = "service account signing key";
    let der = PrivatePkcs8KeyDer::from_pem_slice(read_text(&path, dir)?.as_bytes())
        .map_err(|source| corrupt(&path, what, source))?;
    SigningKey::from_pkcs8(der.secret_pkcs8_der()).map_err(|source| corrupt(&path, what, source))
}

fn write_service_account_key(path: &Path) -> Result<(), Error> {
    let der = SigningKey::generate().ok_or(Error::Random)?;
    write_file(path, pem("PRIVATE KEY", &der).as_bytes(), 0o600)
}

/// `der` PEM-armoured under `label`, 64 characters a line.
fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// Writes the admin kubeconfig for a server reached at `server` (its bound address).
pub(crate) fn write_kubeconfig(path: &Path, server: SocketAddr, pki: &Pki) -> Result<(), Error> {
    let server = SocketAddr::new(dial_ip(server.ip()), server.port());
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let pem = |der: &CertificateDer<'_>| pem("CERTIFICATE", der);
    // Every value is either fixed, base64 or a URL without quotes or backslashes.
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: berth
  cluster:
    server: \"https://{server}\"
    certificate-authority-data: {ca}
users:
- name: admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: berth
  context:
    cluster: berth
    user: admin
current-context: berth
preferences: {{}}
",
        ca = b64(pem(&pki.ca).as_bytes()),
        cert = b64(pem(&pki.admin_cert).as_bytes()),
        key = b64(pki.admin_key.as_bytes()),
    );
    write_file(path, text.as_bytes(), 0o600)
}

/// The address a local client dials to reach a server listening on `listen`.
pub(crate) fn dial_ip(listen: IpAddr) -> IpAddr {
    match listen {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}

fn server_sans(listen: IpAddr) -> Result<Vec<SanType>, Error> {
    let localhost =
        "localhost".try_into().map_err(|source| Error::Issue { what: "serving", source })?;
    let mut sans = vec![
        SanType::DnsName(localhost),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    let dialed = dial_ip(listen);
    if !sans.contains(&SanType::IpAddress(dialed)) {
        sans.push(SanType::IpAddress(dialed));
    }
    Ok(sans)
}

/// Generates the CA into `pki.partial` and renames it to `dir`.
fn create_ca(data_dir: &Path, dir: &Path) -> Result<(), Error> {
    let partial = data_dir.join("pki.partial");
    match fs::remove_dir_all(&partial) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::Write { path: partial, source }),
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&partial)
        .map_err(|source| Error::Write { path: partial.clone(), source })?;
    let issue = |source| Error::Issue { what: "CA", source };
    let key = KeyPair::generate().map_err(issue)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(issue)?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "berth-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    (params.not_before, params.not_after) = validity(CA_VALIDITY);
    let cert = params.self_signed(&key).map_err(issue)?;
    write_file(&partial.join(CA_KEY), key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&partial.join(CA_CERT), cert.pem().as_bytes(), 0o644)?;
    write_service_account_key(&partial.join(SERVICE_ACCOUNT_KEY))?;
    fs::rename(&partial, dir).map_err(|source| Error::Write { path: dir.to_owned(), source })?;
    sync_dir(data_dir)?;
    tracing::info!(dir = %dir.display(), "created the cluster CA");
    Ok(())
}

/// Why a leaf certificate could not be had.
enum LeafError {
    Other(Error),
    /// A certificate just issued by the CA does not verify against it.
    Mismatch(rustls::Error),
}

impl LeafError {
    fn or_mismatch(self, mismatch: impl FnOnce(rustls::Error) -> Error) -> Error {
        match self {
            LeafError::Other(error) => error,
            LeafError::Mismatch(source) => mismatch(source),
        }
    }
}

impl From<Error> for LeafError {
    fn from(error: Error) -> Self {
        LeafError::Other(error)
    }
}

/// Loads the certificate and key named `cert_name` and `key_name`, or issues new ones when
/// they are missing or fail `verify` (at the renewal horizon).
fn leaf(
    dir: &Path,
    cert_name: &str,
    key_name: &str,
    what: &'static str,
    verify: &dyn Fn(&CertificateDer<'_>, UnixTime) -> Result<(), rustls::Error>,
    params: impl FnOnce() -> Result<CertificateParams, Error>,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<(CertificateDer<'static>, KeyPair), LeafError> {
    let cert_path = dir.join(cert_name);
    let key_path = dir.join(key_name);
    let renew_at = UnixTime::since_unix_epoch(now() + RENEW_BEFORE);
    if exists(&cert_path)? && exists(&key_path)? {
        let key = KeyPair::from_pem(&read_text(&key_path, dir)?)
            .map_err(|source| corrupt(&key_path, "private key", source))?;
        let cert = CertificateDer::from_pem_slice(read_text(&cert_path, dir)?.as_bytes())
            .map_err(|source| corrupt(&cert_path, "certificate", source))?;
        match verify(&cert, renew_at) {
            Ok(()) => return Ok((cert, key)),
            Err(reason) => {
                tracing::info!(path = %cert_path.display(), %reason, "reissuing the {what} certificate");
            }
        }
    }
    let issue = |source| Error::Issue { what, source };
    let key = KeyPair::generate().map_err(issue)?;
    let mut params = params()?;
    (params.not_before, params.not_after) = validity(LEAF_VALIDITY);
    let cert = params.signed_by(&key, issuer).map_err(issue)?;
    let der = cert.der().clone();
    let now = UnixTime::since_unix_epoch(now());
    verify(&der, now).map_err(LeafError::Mismatch)?;
    write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((der, key))
}

fn leaf_params(common_name: &str) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(|source| Error::Issue { what: "leaf", source })?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// The admin bearer token: 32 random bytes as 64 hex digits.
fn token(dir: &Path, provider: &CryptoProvider) -> Result<String, Error> {
    let path = dir.join(ADMIN_TOKEN);
    if exists(&path)? {
        let text = read_text(&path, dir)?;
        let token = text.trim();
        if token.len() < 32 || !token.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return Err(Error::Corrupt {
                path,
                what: "token",
                source: "expected at least 32 letters or digits".into(),
            });
        }
        return Ok(token.to_owned());
    }
    let mut bytes = [0u8; 32];
    provider.secure_random.fill(&mut bytes).map_err(|_| Error::Random)?;
    let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    write_file(&path, format!("{token}\n").as_bytes(), 0o600)?;
    Ok(token)
}

fn corrupt(
    path: &Path,
    what: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Corrupt { path: path.to_owned(), what, source: Box::new(source) }
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn validity(length: Duration) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let now = time::OffsetDateTime::now_utc();
    (now - BACKDATE, now + length)
}

fn exists(path: &Path) -> Result<bool, Error> {
    path.try_exists().map_err(|source| Error::Read { path: path.to_owned(), source })
}

/// A file of the PKI, which must exist once the PKI does.
fn read_text(path: &Path, dir: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => Error::Missing { path: path.to_owned(), dir: dir.to_owned() },
        _ => Error::Read { path: path.to_owned(), source },
    })
}

/// Replaces `path` with `contents` whole: a temporary file, fsync'd, renamed over it.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let error = |source| Error::Write { path: path.to_owned(), source };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(source) if source.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(error(source)),
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)
        .map_err(error)?;
    file.set_permissions(fs::Permissions::from_mode(mode)).map_err(error)?;
    file.write_all(contents).map_err(error)?;
    file.sync_all().map_err(error)?;
    drop(file);
    fs::rename(&temporary, path).map_err(error)?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| Error::Write { path: dir.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_start_creates_everything_and_later_starts_reuse_it() {
        let data = tempfile::tempdir().unwrap();
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let first = prepare(data.path(), localhost, &provider()).unwrap();
        let dir = data.path().join("pki");
        assert_eq!(mode(&dir.join(CA_KEY)), 0o600);
        assert_eq!(mode(&dir.join(SERVER_KEY)), 0o600);
        assert_eq!(mode(&dir.join(ADMIN_KEY)), 0o600);
        assert_eq!(mode(&dir.join(ADMIN_TOKEN)), 0o600);
        assert_eq!(mode(&dir.join(SERVICE_ACCOUNT_KEY)), 0o600);
        assert!(!data.path().join("pki.partial").exists());
        assert_eq!(first.admin_token.len(), 64);

        let second = prepare(data.path(), localhost, &provider()).unwrap();
        assert_eq!(second.ca, first.ca);
        assert_eq!(second.server_cert, first.server_cert);
        assert_eq!(second.admin_cert, first.admin_cert);
        assert_eq!(second.admin_token, first.admin_token);
        assert_eq!(
            format!("{:?}", second.service_account_key),
            format!("{:?}", first.service_account_key),
            "the same key id"
        );
    }

    #[test]
    fn a_pki_without_a_signing_key_gets_one_once() {
        let data = tempfile::tempdir().unwrap();
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        prepare(data.path(), localhost, &provider()).unwrap();
        let key = data.path().join("pki").join(SERVICE_ACCOUNT_KEY);
        fs::remove_file(&key).unwrap();
        let first = prepare(data.path(), localhost, &provider()).unwrap();
        let written = fs::read(&key).unwrap();
        let second = prepare(data.path(), localhost, &provider()).unwrap();
        assert_eq!(fs::read(&key).unwrap(), written);
        assert_eq!(
            format!("{:?}", first.service_account_key),
            format!("{:?}", second.service_account_key)
        );
    }

    #[test]
    fn a_new_listen_address_reissues_only_the_serving_certificate() {
        let data = tempfile::tempdir().unwrap();
        let first = prepare(data.path(), IpAddr::V4(Ipv4Addr::LOCALHOST), &provider()).unwrap();
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let second = prepare(data.path(), other, &provider()).unwrap();
        assert_eq!(second.ca, first.ca);
        assert_ne!(second.server_cert, first.server_cert);
        assert_eq!(second.admin_cert, first.admin_cert);
        // 0.0.0.0 is dialed as 127.0.0.1, which every serving certificate names.
        let third = prepare(data.path(), IpAddr::V4(Ipv4Addr::UNSPECIFIED), &provider()).unwrap();
        assert_eq!(third.server_cert, second.server_cert);
    }

    #[test]
    fn damaged_files_are_named_and_never_replaced() {
        let data = tempfile::tempdir().unwrap();
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        prepare(data.path(), localhost, &provider()).unwrap();
        let dir = data.path().join("pki");
        for name in [CA_KEY, CA_CERT, SERVER_KEY, ADMIN_CERT, ADMIN_TOKEN, SERVICE_ACCOUNT_KEY] {
            let path = dir.join(name);
            let saved = fs::read(&path).unwrap();
            fs::write(&path, "garbage").unwrap();
            let error = prepare(data.path(), localhost, &provider()).unwrap_err();
            assert!(matches!(error, Error::Corrupt { .. }), "{name}: {error:?}");
            assert!(error.to_string().contains(&path.display().to_string()), "{error}");
            assert_eq!(fs::read(&path).unwrap(), b"garbage");
            fs::write(&path, saved).unwrap();
        }
        let ca_key = dir.join(CA_KEY);
        fs::remove_file(&ca_key).unwrap();
        let error = prepare(data.path(), localhost, &provider()).unwrap_err();
        assert!(matches!(error, Error::Missing { .. }), "{error:?}");
        assert!(error.to_string().contains(&ca_key.display().to_string()), "{error}");
    }

    #[test]
    fn a_ca_key_that_does_not_match_its_certificate_is_refused() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        prepare(one.path(), localhost, &provider()).unwrap();
        prepare(two.path(), localhost, &provider()).unwrap();
        let dir = one.path().join("pki");
        fs::copy(two.path().join("pki").join(CA_KEY), dir.join(CA_KEY)).unwrap();
        fs::remove_file(dir.join(SERVER_CERT)).unwrap();
        let error = prepare(one.path(), localhost, &provider()).unwrap_err();
        assert!(matches!(error, Error::CaMismatch { .. }), "{error:?}");
    }

    #[test]
    fn kubeconfig_dials_loopback_for_an_unspecified_listen_address() {
        let data = tempfile::tempdir().unwrap();
        let pki = prepare(data.path(), IpAddr::V4(Ipv4Addr::UNSPECIFIED), &provider()).unwrap();
        let path = data.path().join("kubeconfig.yaml");
        write_kubeconfig(&path, "0.0.0.0:6443".parse().unwrap(), &pki).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("server: \"https://127.0.0.1:6443\"\n"), "{text}");
        assert_eq!(mode(&path), 0o600);
        write_kubeconfig(&path, "[::]:6443".parse().unwrap(), &pki).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("server: \"https://[::1]:6443\"\n"), "{text}");
    }
}
