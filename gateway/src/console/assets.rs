//! The console's static files (`gateway/console/`), embedded in the binary at
//! build time: no build step, nothing fetched at run time. Served with a content
//! security policy that allows only this origin.

/// Name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../console/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/console.css"),
    ),
    (
        "sigv4.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/sigv4.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/api.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/charts.js"),
    ),
    (
        "pages.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/pages.js"),
    ),
    (
        "browser.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/browser.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/app.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../console/favicon.svg"),
    ),
];

/// Only this origin: scripts, styles, requests; images also from blobs.
pub const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The file `name` (as under `/assets/`), with its content type.
pub fn get(name: &str) -> Option<(&'static str, &'static [u8])> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, t, b)| (*t, *b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_is_there_and_fetches_nothing_outside() {
        for (name, _, bytes) in super::FILES {
            assert!(!bytes.is_empty(), "{name} is empty");
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains("https://"), "{name} names an outside URL");
        }
        assert!(super::get("app.js").is_some());
        assert!(super::get("../Cargo.toml").is_none());
    }
}
