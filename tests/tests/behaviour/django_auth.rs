//! Django's password hashes, signatures and session auth hashes, as the
//! installed Django makes them (`tests/django/auth_vectors.py`), checked by
//! `actix_permit::django` over generated inputs; and what no input may do
//! to it (panic, or inflate past its bound). Needs python3 with Django,
//! argon2-cffi and bcrypt; says it skipped without them.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use actix_permit::django::csrf;
use actix_permit::django::hashers::{HashError, HashLimits, check_password, session_auth_hash};
use actix_permit::django::signing::{self, SecretKeys, SigningError};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

pub fn django() -> bool {
    crate::support::python_has(&["django", "argon2", "bcrypt"])
}

/// Django's answers to `cases`, one each, from one run of the script.
fn ask_django(cases: &[Value]) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django/auth_vectors.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut stdin = child.stdin.take().unwrap();
    let input: String = cases.iter().map(|case| format!("{case}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let answers: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success(), "the Django script failed");
    assert_eq!(answers.len(), cases.len());
    answers
}

fn generated<T: std::fmt::Debug>(strategy: impl Strategy<Value = T>, n: usize) -> Vec<T> {
    let mut runner = TestRunner::default();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// Text Django accepts in a password or a salt: any characters, non-ASCII
/// included; salts without `$`, as Django's own.
fn text(chars: &'static str, len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[{chars}]{{{},{}}}", len.start, len.end)).unwrap(),
        proptest::collection::vec(any::<char>().prop_filter("no $", |c| *c != '$'), len)
            .prop_map(|chars| chars.into_iter().collect()),
    ]
}

/// A JSON value as a session holds one: strings of any characters, whole
/// numbers, booleans, null, lists and maps, nested; long and repetitive
/// ones too, so that `dumps` compresses some.
fn session_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(Value::from),
        "[a-z]{0,3}".prop_map(|s| Value::from(s.repeat(40))),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

#[test]
fn django_and_we_agree_on_hashes_signatures_and_session_hashes() {
    if !django() {
        return;
    }
    let limits = HashLimits::default();
    // Hashes: each hasher with generated passwords, salts and (cheap)
    // parameters; Django encodes, we check the password and a wrong one.
    // Ten of each hasher, so that every run checks all six.
    let hashers: Vec<BoxedStrategy<(&str, Value)>> = vec![
        (1u32..3000)
            .prop_map(|i| ("pbkdf2_sha256", json!({"iterations": i})))
            .boxed(),
        (1u32..3000)
            .prop_map(|i| ("pbkdf2_sha1", json!({"iterations": i})))
            .boxed(),
        (1u32..=3, 8u32..64, 1u32..=3)
            .prop_map(|(t, m, p)| ("argon2", json!({"t": t, "m": m * p, "p": p})))
            .boxed(),
        (4u32..=5)
            .prop_map(|cost| ("bcrypt_sha256", json!({"cost": cost})))
            .boxed(),
        (4u32..=5)
            .prop_map(|cost| ("bcrypt", json!({"cost": cost})))
            .boxed(),
        (1u32..=10, 1u32..=8, 1u32..=3)
            .prop_map(|(log_n, r, p)| ("scrypt", json!({"n": 1u32 << log_n, "r": r, "p": p})))
            .boxed(),
    ];
    let hash_cases: Vec<_> = hashers
        .into_iter()
        .flat_map(|hasher| {
            generated(
                (
                    hasher,
                    text("a-zA-Z0-9 !@#é", 0..24),
                    text("a-zA-Z0-9", 1..24),
                ),
                10,
            )
        })
        .collect();
    let cases: Vec<Value> = hash_cases
        .iter()
        .map(|((hasher, params), password, salt)| {
            json!({"hash": hasher, "password": password, "salt": salt, "params": params})
        })
        .collect();
    let answers = ask_django(&cases);
    let mut checked = std::collections::BTreeMap::<&str, usize>::new();
    for (((hasher, _), password, _), answer) in hash_cases.iter().zip(&answers) {
        let encoded = answer["encoded"].as_str().unwrap();
        assert_eq!(
            check_password(password, encoded, &limits),
            Ok(true),
            "{hasher}: {password:?} against Django's {encoded}"
        );
        let wrong = format!("{password}x");
        assert_eq!(
            check_password(&wrong, encoded, &limits),
            Ok(false),
            "{hasher}: a wrong password against {encoded}"
        );
        *checked.entry(hasher).or_default() += 1;
    }
    assert_eq!(checked.len(), 6, "every hasher was generated: {checked:?}");

    // Signatures: Django's dumps read by us (with the current key, and with
    // a fallback), ours read by Django, for generated values, salts and keys.
    let sign_cases = generated(
        (
            session_value(),
            "[a-z.]{0,30}",
            proptest::collection::vec("[ -~]{1,50}", 1..4),
        ),
        80,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases: Vec<Value> = sign_cases
        .iter()
        .map(|(value, salt, keys)| {
            let ours = SecretKeys::new(keys[0].clone(), keys[1..].iter().cloned());
            json!({"sign": value, "salt": salt, "keys": keys,
                   "theirs": signing::dumps_at(value, &ours, salt, now)})
        })
        .collect();
    let answers = ask_django(&cases);
    let mut compressed = 0;
    for ((value, salt, keys), answer) in sign_cases.iter().zip(&answers) {
        let ours = SecretKeys::new(keys[0].clone(), keys[1..].iter().cloned());
        assert_eq!(
            answer.get("read"),
            Some(value),
            "Django read ours: {answer}"
        );
        let signed = answer["signed"].as_str().unwrap();
        compressed += usize::from(signed.starts_with('.'));
        assert_eq!(
            signing::loads(signed, &ours, salt, None).as_ref(),
            Ok(value)
        );
        let with_last = answer["signed_with_last"].as_str().unwrap();
        assert_eq!(
            signing::loads(with_last, &ours, salt, Some(60)).as_ref(),
            Ok(value)
        );
        // Without the key that signed it, refused.
        let others = SecretKeys::new(format!("{}!", keys[0]), []);
        assert_eq!(
            signing::loads(signed, &others, salt, None),
            Err(SigningError::BadSignature)
        );
        // Under another salt, refused.
        assert_eq!(
            signing::loads(signed, &ours, &format!("{salt}x"), None),
            Err(SigningError::BadSignature)
        );
    }
    assert!(compressed > 0, "some values were compressed");

    // Session auth hashes of generated password fields and secrets.
    let hash_cases = generated((any::<String>(), "[ -~]{1,60}"), 40);
    let cases: Vec<Value> = hash_cases
        .iter()
        .map(|(field, secret)| json!({"session_hash": field, "secret": secret}))
        .collect();
    for ((field, secret), answer) in hash_cases.iter().zip(ask_django(&cases)) {
        assert_eq!(
            session_auth_hash(field, secret),
            answer["hash"].as_str().unwrap()
        );
    }
}

/// Django's CSRF check and ours decide alike: for generated secrets, the
/// tokens Django masks, the tokens we mask, and tokens altered, cut,
/// lengthened, of other secrets or of other characters, against a cookie
/// holding the secret or (as Django before 4.1 wrote it) a masked token.
#[test]
fn django_and_we_agree_on_csrf_tokens() {
    if !django() {
        return;
    }
    let alphabet = "a-zA-Z0-9";
    let secret = || proptest::string::string_regex(&format!("[{alphabet}]{{32}}")).unwrap();
    let cases = generated(
        (
            secret(),
            secret(),
            secret(),
            proptest::collection::vec(
                (
                    any::<prop::sample::Index>(),
                    prop_oneof!["[a-zA-Z0-9]", "[^a-zA-Z0-9]"],
                ),
                0..3,
            ),
            0usize..5,
        ),
        150,
    );
    let mut requests = Vec::new();
    let mut pairs_per_case = Vec::new();
    for (secret, mask, other, edits, kind) in &cases {
        let ours = csrf::mask(secret, mask).unwrap();
        let mut altered: Vec<char> = ours.chars().collect();
        for (at, with) in edits {
            let at = at.index(altered.len());
            altered[at] = with.chars().next().unwrap();
        }
        let token = match kind {
            0 => altered.iter().collect(),
            1 => altered.iter().take(40).collect(),
            2 => altered.iter().chain(['a'].iter()).collect(),
            3 => other.clone(),
            _ => secret.clone(),
        };
        let pairs = vec![
            (secret.clone(), token.clone()),
            (secret.clone(), ours.clone()),
            (csrf::mask(secret, other).unwrap(), token),
        ];
        requests.push(json!({"csrf": pairs, "secret": secret}));
        pairs_per_case.push(pairs);
    }
    let answers = ask_django(&requests);
    let (mut agreed, mut accepted) = (0, 0);
    for ((pairs, answer), (secret, ..)) in pairs_per_case.iter().zip(&answers).zip(&cases) {
        for ((stored, token), verdict) in pairs.iter().zip(answer["verdicts"].as_array().unwrap()) {
            let django = verdict.as_bool().unwrap();
            assert_eq!(
                csrf::token_matches(stored, token),
                django,
                "{stored:?} {token:?}"
            );
            agreed += 1;
            accepted += usize::from(django);
        }
        let masked = answer["masked"].as_str().unwrap();
        assert!(csrf::token_matches(secret, masked), "Django's own {masked}");
    }
    assert!(
        accepted > 0 && accepted < agreed,
        "both answers seen: {accepted} of {agreed}"
    );
}

/// The vectors of DJANGO.md (Django 5.2.20), which need no Python.
#[test]
fn the_recorded_vectors_hold() {
    let limits = HashLimits::default();
    for encoded in [
        "pbkdf2_sha256$1000$seasalt0123456789abcde$8jM2ZNkLhlSPoRxmDNmuF0giMFgKcGORYHjFREquMZg=",
        "scrypt$16384$seasalt0123456789abcde$8$5$EfAMZ1Jw89/oTGWB/9IjJN3M5N70ivM5YjLj3IfVbSHcZOY15xa8wFa45PqQY0zrRiT7OjQn0dESWMQYFD3ctg==",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$c2Vhc2FsdDAxMjM0NTY3ODlhYmNkZQ$mk6addomeRtLU85Lf5xR/a9n3RQc+tU8L/oYL5gIZQ8",
        "bcrypt_sha256$$2b$12$O4nOIQZuym10C09qBWG/yu97BCJPQQha9dHn/S7x76DF4g/2hYlom",
    ] {
        assert_eq!(
            check_password("correct horse", encoded, &limits),
            Ok(true),
            "{encoded}"
        );
        assert_eq!(
            check_password("correct horsE", encoded, &limits),
            Ok(false),
            "{encoded}"
        );
    }
    let pbkdf2 =
        "pbkdf2_sha256$1000$seasalt0123456789abcde$8jM2ZNkLhlSPoRxmDNmuF0giMFgKcGORYHjFREquMZg=";
    assert_eq!(
        session_auth_hash(
            pbkdf2,
            "django-insecure-test-key-for-vectors-0123456789abcdef"
        ),
        "c5475aa2005992688464c84ecd2a96b463169824a786fb5ef48a7e9cb6e87783"
    );
    assert_eq!(
        session_auth_hash(pbkdf2, "old-secret-key-for-fallback-test"),
        "09111790eea6a18c9f8fda04ff1dc2cfd985fb0395aad332bc91dab79180b314"
    );
    let keys = SecretKeys::new(
        "django-insecure-test-key-for-vectors-0123456789abcdef",
        ["old-secret-key-for-fallback-test".to_owned()],
    );
    let session = json!({"_auth_user_id": "1",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": "x"});
    let db = ".eJyrVopPLC3JiC8tTi2Kz0xRslIyVNJBFktKTM5OzQNJpGQl5qXn6yXn55UUZSbpgZToQWWL9XzzU1JznKBqUQzISCzOAOquUKoFAD_nJsU:1xaMM1:PW-e_xGA-tuiMgq0_uMvbMtIhFYgy07a5CiBOiemo7c";
    assert_eq!(
        signing::loads(db, &keys, "django.contrib.sessions.SessionStore", None),
        Ok(session.clone())
    );
    let cookie = ".eJyrVopPLC3JiC8tTi2Kz0xRslIyVNJBFktKTM5OzQNJpGQl5qXn6yXn55UUZSbpgZToQWWL9XzzU1JznKBqUQzISCzOAOquUKoFAD_nJsU:1xaMM1:hL1bDX8TAkdnHcZzb5MTmT4aSz_nJiYBRhZRB1kODRA";
    assert_eq!(
        signing::loads(
            cookie,
            &keys,
            "django.contrib.sessions.backends.signed_cookies",
            None
        ),
        Ok(session)
    );
    assert_eq!(
        signing::loads(
            "eyJhIjoxfQ:1xaMM1:3mpxJYE_2nXBmwHUJFmpTG6S5Od15KruT7Znupdw3gk",
            &keys,
            "django.contrib.sessions.SessionStore",
            None
        ),
        Ok(json!({"a": 1}))
    );
    // Signed long ago: refused once an age is asked for.
    assert_eq!(
        signing::loads(
            cookie,
            &keys,
            "django.contrib.sessions.backends.signed_cookies",
            Some(60)
        ),
        Err(SigningError::Expired)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever a stored hash holds, checking it answers; it never panics.
    #[test]
    fn any_stored_hash_is_an_answer_not_a_panic(
        algorithm in prop_oneof![
            prop::sample::select(vec![
                "pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt",
            ]).prop_map(str::to_owned),
            "[a-z0-9_]{0,12}",
        ],
        fields in proptest::collection::vec(
            prop_oneof!["[0-9]{0,12}", "[A-Za-z0-9+/=,.$-]{0,40}", any::<String>()], 0..7),
        password in any::<String>(),
    ) {
        let encoded = format!("{algorithm}${}", fields.join("$"));
        let tight = HashLimits {
            pbkdf2_iterations: 10_000,
            argon2_memory_kib: 4096,
            argon2_passes: 4,
            argon2_lanes: 4,
            bcrypt_cost: 6,
            scrypt_memory_bytes: 1 << 20,
            scrypt_parallelism: 4,
        };
        let _ = check_password(&password, &encoded, &tight);
    }

    /// Whatever a client sends as a signed value, loading it answers an
    /// error or (signed by us) the value; it never panics.
    #[test]
    fn any_signed_value_is_an_answer_not_a_panic(
        value in session_value(),
        cut in any::<prop::sample::Index>(),
        insert in any::<String>(),
        noise in any::<String>(),
    ) {
        let keys = SecretKeys::new("k", []);
        let signed = signing::dumps(&value, &keys, "s");
        prop_assert_eq!(signing::loads(&signed, &keys, "s", None), Ok(value));
        let at = cut.index(signed.len() + 1);
        let at = (0..=at).rev().find(|i| signed.is_char_boundary(*i)).unwrap_or(0);
        let tampered = format!("{}{insert}{}", &signed[..at], &signed[at..]);
        if tampered != signed {
            prop_assert!(signing::loads(&tampered, &keys, "s", None).is_err());
        }
        let _ = signing::loads(&noise, &keys, "s", None);
    }
}

/// A payload that inflates past the bound is refused, though signed.
#[test]
fn a_zlib_bomb_inflates_no_further_than_the_bound() {
    use base64::Engine;
    use std::io::Write;
    let keys = SecretKeys::new("k", []);
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(b"[\"").unwrap();
    encoder.write_all(&vec![b'a'; 64 << 20]).unwrap();
    encoder.write_all(b"\"]").unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 128 * 1024, "{} bytes", bomb.len());
    let payload = format!(
        ".{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bomb)
    );
    let signed = signing::TimestampSigner::new(&keys, "s").sign_at(&payload, 0);
    assert_eq!(
        signing::loads(&signed, &keys, "s", None),
        Err(SigningError::Malformed("inflates past the bound"))
    );
    assert_eq!(
        check_password("x", "!unusable", &HashLimits::default()),
        Err(HashError::Unusable)
    );
}
