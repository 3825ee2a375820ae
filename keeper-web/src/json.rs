//! JSON text written by hand, turned into JavaScript objects with one `JSON.parse`: the fetch
//! options and the event payloads are built this way because a property set per field, or serde,
//! costs more bytes in the package than this does.

use alloc::string::String;

use keeper_core::text::{HEX_DIGITS, push_u64};

/// A JSON object being written: `{"key":value,...}`.
pub(crate) struct JsonObject(String);

impl JsonObject {
    pub(crate) fn new() -> Self {
        JsonObject(String::from("{"))
    }

    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_string(&mut self.0, key);
        self.0.push(':');
        &mut self.0
    }

    pub(crate) fn str(mut self, key: &str, value: &str) -> Self {
        push_string(self.key(key), value);
        self
    }

    pub(crate) fn num(mut self, key: &str, value: u64) -> Self {
        push_u64(self.key(key), value);
        self
    }

    pub(crate) fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// A value that is already JSON text.
    pub(crate) fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key).push_str(json);
        self
    }

    pub(crate) fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }

    /// The object as a JavaScript value.
    pub(crate) fn parse(self) -> wasm_bindgen::JsValue {
        js_sys::JSON::parse(&self.finish()).unwrap_or(wasm_bindgen::JsValue::UNDEFINED)
    }
}

/// Appends `text` as a JSON string, escaped. Byte by byte: only ASCII bytes are escaped, so
/// the runs between them are whole UTF-8 sequences.
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0..=0x1f => "\\u00",
            _ => continue,
        };
        out.push_str(text.get(start..at).unwrap_or(""));
        out.push_str(escape);
        if byte < 0x20 {
            out.push_str(HEX_DIGITS[usize::from(byte >> 4)]);
            out.push_str(HEX_DIGITS[usize::from(byte & 15)]);
        }
        start = at + 1;
    }
    out.push_str(text.get(start..).unwrap_or(""));
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_valid_json() {
        let text = JsonObject::new()
            .str("a", "q\"\\\n\u{1}é")
            .num("n", 18_446_744_073_709_551_615)
            .bool("ok", false)
            .raw("o", "{}")
            .finish();
        assert_eq!(
            text,
            r#"{"a":"q\"\\\u000A\u0001é","n":18446744073709551615,"ok":false,"o":{}}"#
        );
        assert_eq!(JsonObject::new().finish(), "{}");
    }
}
