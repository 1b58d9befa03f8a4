//! A request's query string, decoded: `+` is a space, as HTML forms and
//! `URLSearchParams` write it, and `%2B` a plus. It only reads.

use super::reply::{self, Reply};
use hyper::StatusCode;
use percent_encoding::percent_decode;

/// The parameters in the order given.
pub struct Query(Vec<(String, Vec<u8>)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let decode = |s: &str| -> Vec<u8> {
            let spaced = s.replace('+', " ");
            percent_decode(spaced.as_bytes()).collect()
        };
        Query(
            q.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (String::from_utf8_lossy(&decode(k)).into_owned(), decode(v)),
                    None => (String::from_utf8_lossy(&decode(p)).into_owned(), Vec::new()),
                })
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// A parameter as text; a 400 reply when it is not UTF-8.
    pub fn text(&self, name: &str) -> Result<Option<&str>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v).map(Some).map_err(|_| {
                reply::error(
                    StatusCode::BAD_REQUEST,
                    &format!("'{name}' is not valid UTF-8"),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded_as_forms_write_them() {
        let q = Query::parse(Some("match=user%3A*&count=10&nx&a+b=c%2Bd"));
        assert_eq!(q.get("match"), Some(&b"user:*"[..]));
        assert_eq!(q.get("count"), Some(&b"10"[..]));
        assert!(q.has("nx"));
        assert!(!q.has("xx"));
        assert_eq!(q.get("a b"), Some(&b"c+d"[..]));
        assert!(Query::parse(None).get("x").is_none());
    }
}
