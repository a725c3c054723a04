//! Checks a JSON value against a schema of the served OpenAPI document: references, `allOf`,
//! `oneOf`/`anyOf`, types (including `null` in a type list), enums, required properties, the
//! properties present and array items. Enough of JSON Schema to catch a document that no longer
//! says what the server sends.

use serde_json::Value;

/// A schema of `doc` to check values against.
pub struct Checker<'a> {
    doc: &'a Value,
}

impl<'a> Checker<'a> {
    pub fn new(doc: &'a Value) -> Self {
        Checker { doc }
    }

    /// The schema a `$ref` such as `#/components/schemas/ErrorBody` points to.
    pub fn resolve(&self, reference: &str) -> &'a Value {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are used: {reference}"));
        self.doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} points to nothing in the document"))
    }

    /// Every way `value` does not fit `schema`, each with the JSON path where it was found.
    pub fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors);
        errors
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return self.check(self.resolve(reference), value, at, errors);
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.check(part, value, at, errors);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let fits = options.iter().filter(|o| self.errors(o, value).is_empty());
                let count = fits.count();
                let ok = if key == "oneOf" {
                    count == 1
                } else {
                    count >= 1
                };
                if !ok {
                    errors.push(format!(
                        "{at}: fits {count} of the {} {key} options: {value}",
                        options.len()
                    ));
                }
            }
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.iter().any(|t| has_type(value, t)) {
                errors.push(format!("{at}: {value} is not of type {types:?}"));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                errors.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(object) = value.as_object() {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(name) {
                        errors.push(format!("{at}: the required property {name} is missing"));
                    }
                }
            }
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if let Some(v) = object.get(name) {
                        self.check(property, v, &format!("{at}.{name}"), errors);
                    }
                }
            }
        }
        if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
            for (i, v) in list.iter().enumerate() {
                self.check(items, v, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}
