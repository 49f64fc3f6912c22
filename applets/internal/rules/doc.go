// Package rules is OpenWrt's hotplug rule language: libubox's json_script
// as procd uses it for /etc/hotplug.json and /etc/hotplug-preinit.json.
//
// A file is compiled once (Parse, LoadFile): JSON read leniently like
// json-c (trailing commas, comments), regexes compiled, %VAR% strings
// split, includes loaded. Script.Run then walks the compiled tree for one
// event's variables and reports each command reached, in order, to the
// caller, which carries it out (makedev, exec, ...). No JSON is read and
// no regex compiled per event.
//
// The language, with libubox's semantics:
//
//	[ "if", COND, THEN, ELSE ]   ELSE optional; COND in error runs neither
//	[ "case", "VAR", { "value": BLOCK, ... } ]   exact match, first wins
//	[ "return" ]                 ends the file for this event
//	[ "include", "FILE" ]        runs FILE with the same variables
//	[ "name", "arg", ... ]       a command, args after %VAR% substitution
//	[ BLOCK, BLOCK, ... ]        a list, run in order
//
// Conditions: ["eq", "VAR", "v" or ["v1", ...]], ["regex", "VAR", "re" or
// [...]] (POSIX extended, unanchored search), ["has", "VAR" or [...]],
// ["and", ...] (empty: true), ["or", ...] (empty: false), ["not", COND],
// ["isdir", "path with %VAR%"]. A missing variable makes eq and regex
// false. "%NAME%" is NAME's value or empty, "%%" is "%", and a string with
// an odd number of '%' is an error: its command is dropped.
//
// The quirks are libubox's and are kept: "return" inside if/case ends the
// whole file; an included file's "return" ends only that file; each file
// runs at most once per event (a second include of it is skipped, which
// also stops recursion); an error in a condition (a non-string where a
// string is expected, an unknown condition) runs neither branch; arguments
// are picked by type, so an element of the wrong type is passed over and
// the next one of the right type takes its place; unknown command names
// are handed to the caller. With Fallback set to ProcdFallback (the
// default), DEVNAME and DEVICENAME default to the last part of DEVPATH, as
// in procd, so ["has", "DEVNAME"] holds for every device event.
//
// Where we deliberately differ from libubox, and why:
//
//   - Problems are found at load, not per event: every rule that libubox
//     would report as an error when reached (wrong types, an unknown
//     condition, an unterminated %, a regex that does not compile) is a
//     warning naming file:line in Script.Warnings, and at run time behaves
//     exactly as in libubox. procd logs the same problem on every event.
//   - Includes are loaded once, with the main file. libubox loads an
//     include when first reached and retries a missing one on every event;
//     here a missing or broken include is a load warning and a no-op until
//     the rules are loaded again. A relative include name is looked up
//     beside the including file first, then as given (libubox: as given,
//     relative to procd's working directory, /).
//   - Regexes are POSIX extended regular expressions as musl's regcomp
//     reads them in the C locale (package ere): bytes, not characters;
//     '.' and [^...] match a newline. Patterns that musl or glibc read
//     with extensions of their own (\d, \w, \<, \b, back-references) and
//     repetition counts above 255 do not compile and never match, with a
//     load warning naming the offset. Patterns without special characters
//     (the ^prefix form real files use) skip the engine.
//   - Non-string command arguments (numbers, booleans, arrays) are dropped
//     with a load warning. libubox passes them on in binary form, which
//     procd's handlers either skip or use as garbage argv strings.
//   - Files are limited to MaxFileSize bytes and, like json-c's default
//     tokenizer, to 32 levels of nesting.
//   - Strings are cut at an embedded NUL (\u0000) with a warning, which is
//     what libubox's C strings amount to; a duplicate object key keeps the
//     last value (json-c's behaviour) with a warning.
//
// isdir stats under Script.Root, so tests can use a fake tree; emit owns
// the args slice it is given.
package rules
