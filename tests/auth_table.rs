//! Authentication wired as the proxy will wire it: parsed SIP messages (sip::parse), the
//! credentials header mapped into a DigestResponse, HA1s and aliases from the demo
//! forwarding table, virtual time.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use md5::Md5;
use ringlet::auth::{
    check_identity, Algorithm, AuthConfig, AuthRequest, Authenticator, ChallengeKind, ClaimedIn,
    DigestResponse, IdentityCheck, NonceSecret, StoredHa1, UnixTimeAnchor, VerifyResult,
};
use ringlet::sip::{self, Credentials};
use ringlet::table::ForwardingSnapshot;
use sha2::{Digest, Sha256};

fn hex_hash(alg: Algorithm, data: &str) -> String {
    let raw: Vec<u8> = match alg {
        Algorithm::Md5 => Md5::digest(data.as_bytes()).to_vec(),
        Algorithm::Sha256 => Sha256::digest(data.as_bytes()).to_vec(),
    };
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn invite(ruri: &str, from_user: &str, auth: Option<&str>) -> Vec<u8> {
    let mut m = format!(
        "INVITE {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@localhost>;tag=a1\r\n\
         To: <{ruri}>\r\n\
         Call-ID: c1@127.0.0.1\r\n\
         CSeq: 2 INVITE\r\n\
         Contact: <sip:alice@127.0.0.1:5070>\r\n"
    );
    if let Some(a) = auth {
        m.push_str(&format!("Proxy-Authorization: {a}\r\n"));
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    m.into_bytes()
}

/// The phone's Proxy-Authorization value for `nonce`, computed from the demo password.
fn authorization(alg: Algorithm, nonce: &str, uri: &str, password: &str) -> String {
    let ha1 = hex_hash(alg, &format!("alice:localhost:{password}"));
    let ha2 = hex_hash(alg, &format!("INVITE:{uri}"));
    let response = hex_hash(alg, &format!("{ha1}:{nonce}:00000001:4a5b:auth:{ha2}"));
    format!(
        "Digest username=\"alice\", realm=\"localhost\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm={}, cnonce=\"4a5b\", qop=auth, nc=00000001",
        alg.token()
    )
}

struct Proxy {
    auth: Authenticator,
    table: ForwardingSnapshot,
    now: Instant,
}

impl Proxy {
    fn new() -> Proxy {
        let now = Instant::now();
        let secret = NonceSecret::from_bytes(&[5u8; 32]).unwrap();
        let anchor = UnixTimeAnchor::new(now, 1_800_000_000);
        Proxy {
            auth: Authenticator::new(&AuthConfig::default(), &secret, 0, anchor, 11),
            table: ForwardingSnapshot::demo(),
            now,
        }
    }

    /// 407 challenge headers for a request from `user`, offering what the table holds.
    fn challenge(&mut self, user: &[u8]) -> String {
        let sub = self.table.subscriber(user, b"localhost").unwrap();
        let offer = StoredHa1::of_subscriber(sub).unwrap().algorithms();
        let mut out = Vec::new();
        self.auth.write_challenge(
            self.now,
            &mut out,
            ChallengeKind::Proxy,
            b"localhost",
            offer,
            false,
        );
        String::from_utf8(out).unwrap()
    }

    /// What the proxy pipeline does with a request carrying credentials.
    fn authenticate(&mut self, datagram: &[u8]) -> (VerifyResult, Option<IdentityCheck>) {
        let msg = sip::parse(datagram).unwrap();
        let Some(Ok(Credentials::Digest(parsed))) = msg.proxy_authorization() else {
            panic!("no digest credentials");
        };
        let creds = DigestResponse::from(&parsed);
        let stored = self
            .table
            .subscriber(creds.username, creds.realm)
            .and_then(StoredHa1::of_subscriber);
        let request = AuthRequest {
            src: IpAddr::from([127, 0, 0, 1]),
            method: msg.method().unwrap().as_bytes(),
            request_uri: msg.request_uri().unwrap(),
            realm: b"localhost",
        };
        self.now += Duration::from_millis(20);
        let v = self.auth.verify(self.now, &request, &creds, stored);
        if !v.result.is_ok() {
            return (v.result, None);
        }
        let from = msg.from().unwrap();
        let table = &self.table;
        let identity = check_identity(
            creds.username,
            b"localhost",
            from.uri.user.unwrap_or_default(),
            from.uri.host_raw,
            ClaimedIn::From,
            |user: &[u8], host: &[u8]| {
                let sub = table.subscriber_by_id(table.resolve_alias(user, host)?)?;
                Some((
                    sub.user.as_bytes(),
                    table.domain_name(sub.domain)?.as_bytes(),
                ))
            },
        );
        (v.result, Some(identity))
    }
}

fn nonce_of(challenge: &str) -> String {
    let i = challenge.find("nonce=\"").unwrap() + 7;
    challenge[i..i + 48].to_string()
}

#[test]
fn demo_subscriber_authenticates_through_the_parser_with_both_algorithms() {
    let mut p = Proxy::new();
    let challenge = p.challenge(b"alice");
    let lines: Vec<&str> = challenge.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("Proxy-Authenticate: Digest realm=\"localhost\""));
    assert!(lines[0].contains("algorithm=SHA-256") && lines[1].contains("algorithm=MD5"));
    let nonce = nonce_of(&challenge);
    let ruri = "sip:bob@localhost";
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let nonce = if alg == Algorithm::Md5 {
            nonce_of(&p.challenge(b"alice"))
        } else {
            nonce.clone()
        };
        let auth = authorization(alg, &nonce, ruri, "wonderland");
        let (result, identity) = p.authenticate(&invite(ruri, "alice", Some(&auth)));
        assert_eq!(result, VerifyResult::Ok, "{alg:?}");
        assert_eq!(identity, Some(IdentityCheck::Ok { via_alias: false }));
    }
}

#[test]
fn wrong_demo_password_is_refused() {
    let mut p = Proxy::new();
    let nonce = nonce_of(&p.challenge(b"alice"));
    let auth = authorization(Algorithm::Sha256, &nonce, "sip:bob@localhost", "builder");
    let (result, _) = p.authenticate(&invite("sip:bob@localhost", "alice", Some(&auth)));
    assert_eq!(result, VerifyResult::WrongPassword);
}

#[test]
fn from_may_be_an_alias_or_did_of_the_user_but_not_someone_else() {
    let mut p = Proxy::new();
    let ruri = "sip:1002@localhost";
    let cases = [
        ("1001", IdentityCheck::Ok { via_alias: true }),
        (
            "1002",
            IdentityCheck::Forbidden("Authenticated user does not match From"),
        ),
        (
            "bob",
            IdentityCheck::Forbidden("Authenticated user does not match From"),
        ),
    ];
    for (from_user, expected) in cases {
        let nonce = nonce_of(&p.challenge(b"alice"));
        let auth = authorization(Algorithm::Sha256, &nonce, ruri, "wonderland");
        let (result, identity) = p.authenticate(&invite(ruri, from_user, Some(&auth)));
        assert_eq!(result, VerifyResult::Ok);
        assert_eq!(identity, Some(expected), "From {from_user}");
    }
}

#[test]
fn credentials_uri_is_compared_as_a_sip_uri() {
    let mut p = Proxy::new();
    // The phone hashed the URI with the host in another case: RFC 3261 §19.1.4 says equal.
    let nonce = nonce_of(&p.challenge(b"alice"));
    let auth = authorization(Algorithm::Sha256, &nonce, "sip:bob@LOCALHOST", "wonderland");
    let (result, _) = p.authenticate(&invite("sip:bob@localhost", "alice", Some(&auth)));
    assert_eq!(result, VerifyResult::Ok);
    // A different user part is another URI.
    let nonce = nonce_of(&p.challenge(b"alice"));
    let auth = authorization(
        Algorithm::Sha256,
        &nonce,
        "sip:carol@localhost",
        "wonderland",
    );
    let (result, _) = p.authenticate(&invite("sip:bob@localhost", "alice", Some(&auth)));
    assert_eq!(result, VerifyResult::UriMismatch);
}
