//! Any bytes as the text of a reply to the digest: the command parser (and the lead and person
//! shapes it checks) never panics, keeps its caps, and every command it returns prints back as
//! a line that parses to the same command.
#![no_main]

use leadsift::feedback::reply::{MAX_NOT_UNDERSTOOD, parse_commands};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = parse_commands(&text);
    assert!(parsed.not_understood.len() <= MAX_NOT_UNDERSTOOD);
    let lines = text.lines().count();
    for (n, cmd) in &parsed.commands {
        assert!(*n >= 1 && *n <= lines.max(1));
        let again = parse_commands(&cmd.to_string());
        assert_eq!(again.commands.len(), 1, "{cmd} does not parse back");
        assert_eq!(&again.commands[0].1, cmd);
    }
    for (n, line) in &parsed.not_understood {
        assert!(*n >= 1 && *n <= lines.max(1));
        assert!(line.chars().count() <= 200);
    }
});
