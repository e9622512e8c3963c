//! TLS to a database server as Dex's drivers do it: rustls with the system's roots (or the CA file the
//! configuration names), the certificate's chain and name checked for `verify-full` (and MySQL's default
//! `tls=true`), the chain only for `verify-ca`, nothing for `require`/`skip-verify`/`prefer`; a client
//! certificate when one is named.

use crate::dsn::{Security, Server};
use anyhow::{anyhow, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};
use std::sync::Arc;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The roots: the CA file named, else the system's.
fn roots(server: &Server) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match &server.tls.ca_file {
        Some(ca) => {
            for c in CertificateDer::pem_file_iter(ca)
                .with_context(|| format!("cannot read the CA file {}", ca.display()))?
            {
                store
                    .add(c.with_context(|| format!("{} holds a bad certificate", ca.display()))?)
                    .with_context(|| {
                        format!("{} holds a certificate rustls refuses", ca.display())
                    })?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = store.add(c);
            }
        }
    }
    if store.is_empty() {
        return Err(anyhow!(
            "there is no CA certificate to verify the server with (no system roots, no CA file)"
        ));
    }
    Ok(store)
}

/// A verifier that checks what `security` asks for, against `name` when the host was replaced by an
/// address (a container's), else the host the connection names.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    name: Option<ServerName<'static>>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        let name = self.name.as_ref().unwrap_or(server_name);
        match inner.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// The rustls client config for `server` (None: no TLS).
pub fn client_config(server: &Server) -> Result<Option<ClientConfig>> {
    let security = server.security()?;
    if security == Security::Plain {
        return Ok(None);
    }
    let verify = matches!(security, Security::VerifyCa | Security::VerifyFull);
    let inner = if verify {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots(server)?), provider())
                .build()
                .map_err(|e| anyhow!("cannot set up certificate verification: {e}"))?,
        )
    } else {
        None
    };
    let name = match &server.server_name {
        Some(n) => Some(
            ServerName::try_from(n.clone())
                .map_err(|_| anyhow!("{n:?} is not a name a certificate can carry"))?,
        ),
        None => None,
    };
    let verifier = Verifier {
        inner,
        check_name: security == Security::VerifyFull,
        name,
        schemes: provider()
            .signature_verification_algorithms
            .supported_schemes(),
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("TLS set-up: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match (&server.tls.cert_file, &server.tls.key_file) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .with_context(|| format!("cannot read the client certificate {}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{} holds a bad certificate", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("cannot read the client key {}", key.display()))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| anyhow!("the client certificate and key do not go together: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(anyhow!(
                "a client certificate needs both its certificate and its key file"
            ))
        }
    };
    Ok(Some(config))
}
