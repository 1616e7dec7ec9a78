//! A small JSON Schema check, enough for `tests/schema/list.json`:
//! `type` (one or a list), `properties`, `required`,
//! `additionalProperties: false`, `items`, `enum` and `minimum`. Any other
//! keyword in a schema is an error, so the schema cannot say more than is
//! checked.
use serde_json::Value;

/// The schema in `tests/schema/<name>.json`.
pub fn load(name: &str) -> Value {
    let path = format!("{}/tests/schema/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every way `v` breaks `schema`, each with its JSON pointer.
pub fn violations(schema: &Value, v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, v, "", &mut out);
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let s = schema.as_object().expect("a schema is an object");
    for (key, rule) in s {
        match key.as_str() {
            "$schema" | "title" => {}
            "type" => {
                let allowed: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
                    _ => panic!("type: {rule}"),
                };
                if !allowed.contains(&type_name(v)) {
                    out.push(format!("{at}: {} is not {allowed:?}", type_name(v)));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(v) {
                    out.push(format!("{at}: {v} is not one of {rule}"));
                }
            }
            "minimum" => {
                if let Some(n) = v.as_f64() {
                    if n < rule.as_f64().unwrap() {
                        out.push(format!("{at}: {n} < {rule}"));
                    }
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for k in rule.as_array().unwrap() {
                        if !o.contains_key(k.as_str().unwrap()) {
                            out.push(format!("{at}: missing {k}"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(rule, &Value::Bool(false), "only additionalProperties: false is checked");
                if let Some(o) = v.as_object() {
                    let known = s["properties"].as_object().unwrap();
                    for k in o.keys().filter(|k| !known.contains_key(*k)) {
                        out.push(format!("{at}: unexpected member {k}"));
                    }
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (k, sub) in rule.as_object().unwrap() {
                        if let Some(member) = o.get(k) {
                            check(sub, member, &format!("{at}/{k}"), out);
                        }
                    }
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, item) in a.iter().enumerate() {
                        check(rule, item, &format!("{at}/{i}"), out);
                    }
                }
            }
            other => panic!("schema keyword {other} is not checked here"),
        }
    }
}
