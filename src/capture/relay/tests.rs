use super::pump::client_addr;
use super::*;
use crate::capture::synth;

#[test]
fn addresses_parse_and_print_back() {
    for (text, want) in [
        (
            "unix:/run/qmp.sock",
            Addr::Unix(PathBuf::from("/run/qmp.sock")),
        ),
        ("unix:rel.sock", Addr::Unix(PathBuf::from("rel.sock"))),
        (
            "tcp:127.0.0.1:4444",
            Addr::Tcp {
                host: "127.0.0.1".into(),
                port: 4444,
            },
        ),
        (
            "tcp:[::1]:0",
            Addr::Tcp {
                host: "::1".into(),
                port: 0,
            },
        ),
        (
            "tcp:localhost:4243",
            Addr::Tcp {
                host: "localhost".into(),
                port: 4243,
            },
        ),
    ] {
        let a = Addr::parse(text).unwrap();
        assert_eq!(a, want);
        assert_eq!(a.to_string(), text);
    }
    for bad in [
        "",
        "/run/qmp.sock",
        "unix:",
        "unix:@abstract",
        "tcp:",
        "tcp:host",
        "tcp::4444",
        "tcp:host:port",
        "tcp:host:70000",
        "tcp:[::1:4444",
        "tcp:fe80::x:1",
        "udp:127.0.0.1:4444",
    ] {
        assert!(Addr::parse(bad).is_err(), "{bad}");
    }
    let long = format!("unix:/{}", "a".repeat(107));
    assert!(Addr::parse(&long).is_err());
    assert_eq!(
        Addr::parse("unix:/x").unwrap().server_port(),
        UNIX_SERVER_PORT
    );
    assert_eq!(Addr::parse("tcp:h:99").unwrap().server_port(), 99);
}

#[test]
fn client_addresses_wrap_within_the_port_range() {
    assert_eq!(client_addr(1).port(), FIRST_CLIENT_PORT);
    assert_eq!(client_addr(2).port(), FIRST_CLIENT_PORT + 1);
    assert_eq!(client_addr(25_536).port(), u16::MAX);
    assert_eq!(client_addr(25_537).port(), FIRST_CLIENT_PORT);
    assert_eq!(*client_addr(7).ip(), synth::CLIENT_IP);
}

#[test]
fn same_path_resolves_directories() {
    let dir = std::env::temp_dir();
    let a = dir.join("qscope-same-path.sock");
    let b = dir.join(".").join("qscope-same-path.sock");
    assert!(same_path(&a, &b));
    assert!(!same_path(&a, &dir.join("other.sock")));
}
