//! The `multipart/form-data` body of a POST object upload, read as it arrives:
//! the fields before the `file` part (at most `MAX_PRE_DATA` bytes together, kept),
//! then the file part as a stream of its bytes that ends at the part's closing
//! boundary, never held whole: memory is the body's frames plus one boundary.
//! What follows the file is read and dropped (AWS ignores fields after it).

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

/// The most the fields before the file (with their part headers) may take.
pub const MAX_PRE_DATA: usize = 256 * 1024;
/// The most of the body after the file part that is read (and ignored) before
/// the response goes out; past it the connection is closed instead.
const MAX_AFTER_FILE: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("the request is not multipart/form-data with a boundary")]
    NoBoundary,
    #[error("malformed multipart/form-data body: {0}")]
    Malformed(&'static str),
    #[error("the fields before the file exceed {MAX_PRE_DATA} bytes")]
    PreDataTooLarge,
    #[error("POST requires exactly one file upload per request")]
    NoFile,
    #[error("the body ended inside the file part")]
    Truncated,
    #[error("reading the body: {0}")]
    Body(String),
}

/// A form: its fields before the file and the file.
pub struct Form {
    pub fields: Fields,
    pub file: FilePart,
}

/// The fields before the file: names lower-cased, in order.
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of field `name` (lower-case).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The file part: its file name and content type as the part gives them, and
/// its bytes.
pub struct FilePart {
    pub filename: String,
    pub content_type: Option<String>,
    pub body: FileStream,
}

pub type FileStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, FormError>> + Send + 'static>>;

/// The boundary of a `multipart/form-data` Content-Type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let mime = params.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= 70).then(|| v.to_string())
    })
}

/// The body as it is read: what came and was not consumed yet.
struct Reader {
    body: s3s::Body,
    buf: BytesMut,
    /// `\r\n--BOUNDARY`.
    delim: Vec<u8>,
    eof: bool,
}

impl Reader {
    /// Reads one more piece of the body; `false` at its end.
    async fn fill(&mut self) -> Result<bool, FormError> {
        if self.eof {
            return Ok(false);
        }
        match self.body.next().await {
            Some(Ok(piece)) => {
                self.buf.extend_from_slice(&piece);
                Ok(true)
            }
            Some(Err(e)) => Err(FormError::Body(e.to_string())),
            None => {
                self.eof = true;
                Ok(false)
            }
        }
    }

    /// Reads until `needle` is in the buffer (returns where), the buffer would
    /// grow past `limit`, or the body ends.
    async fn find(&mut self, needle: &[u8], limit: usize) -> Result<usize, FormError> {
        let mut from = 0;
        loop {
            if let Some(at) = memchr::memmem::find(&self.buf[from..], needle) {
                return Ok(from + at);
            }
            from = self.buf.len().saturating_sub(needle.len() - 1);
            if self.buf.len() > limit {
                return Err(FormError::PreDataTooLarge);
            }
            if !self.fill().await? {
                return Err(FormError::Malformed("the body ended inside a part"));
            }
        }
    }

    async fn need(&mut self, n: usize) -> Result<(), FormError> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(FormError::Malformed("the body ended inside a part"));
            }
        }
        Ok(())
    }
}

/// One part's headers.
struct PartHead {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
}

/// Reads the fields up to the file part and returns the form, the file still
/// unread.
pub async fn read(body: s3s::Body, boundary: &str) -> Result<Form, FormError> {
    let mut delim = b"\r\n--".to_vec();
    delim.extend_from_slice(boundary.as_bytes());
    let mut r = Reader {
        body,
        // The first boundary has no line break before it: give it one.
        buf: BytesMut::from(&b"\r\n"[..]),
        delim,
        eof: false,
    };
    let mut fields = Vec::new();
    let mut used = 0usize;
    loop {
        // At a boundary (the first one may follow a preamble).
        let delim = r.delim.clone();
        let at = r.find(&delim, MAX_PRE_DATA).await?;
        used += at;
        let _ = r.buf.split_to(at + delim.len());
        r.need(2).await?;
        if &r.buf[..2] == b"--" {
            return Err(FormError::NoFile);
        }
        let end = r.find(b"\r\n\r\n", MAX_PRE_DATA).await?;
        used += end + 4;
        if used > MAX_PRE_DATA {
            return Err(FormError::PreDataTooLarge);
        }
        let head = r.buf.split_to(end + 4);
        let head = part_head(&head)?;
        if head.name.eq_ignore_ascii_case("file") {
            let file = FilePart {
                filename: head.filename.unwrap_or_default(),
                content_type: head.content_type,
                body: file_stream(r),
            };
            return Ok(Form {
                fields: Fields(fields),
                file,
            });
        }
        let len = r.find(&delim, MAX_PRE_DATA.saturating_sub(used)).await?;
        used += len;
        let value = r.buf.split_to(len);
        let value = String::from_utf8(value.to_vec())
            .map_err(|_| FormError::Malformed("a field is not UTF-8"))?;
        // The boundary stays in the buffer for the next turn.
        fields.push((head.name.to_ascii_lowercase(), value));
    }
}

/// Parses a part's header lines (`Content-Disposition`, `Content-Type`).
fn part_head(raw: &[u8]) -> Result<PartHead, FormError> {
    let text = std::str::from_utf8(raw).map_err(|_| FormError::Malformed("part headers"))?;
    let mut head = PartHead {
        name: String::new(),
        filename: None,
        content_type: None,
    };
    let mut named = false;
    // The line break that ended the boundary line comes first.
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(FormError::Malformed("a part header without ':'"));
        };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("content-disposition") {
            for param in split_params(value).into_iter().skip(1) {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                let v = unquote(v.trim());
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => {
                        head.name = v;
                        named = true;
                    }
                    "filename" => head.filename = Some(v),
                    _ => {}
                }
            }
        } else if name.trim().eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.to_string());
        }
    }
    if !named {
        return Err(FormError::Malformed("a part without a name"));
    }
    Ok(head)
}

/// `form-data; name="a;b"; filename="c"` → its `;`-separated items, quotes kept
/// whole.
fn split_params(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

/// The file part's bytes, up to its closing boundary; the body after it is read
/// and dropped (bounded) once the file ended.
fn file_stream(r: Reader) -> FileStream {
    Box::pin(futures::stream::unfold(Some(r), |state| async move {
        let mut r = state?;
        let keep = r.delim.len() - 1;
        loop {
            if let Some(at) = memchr::memmem::find(&r.buf, &r.delim) {
                if at > 0 {
                    let data = r.buf.split_to(at).freeze();
                    return Some((Ok(data), Some(r)));
                }
                drain_rest(&mut r).await;
                return None;
            }
            if r.buf.len() > keep {
                let data = r.buf.split_to(r.buf.len() - keep).freeze();
                return Some((Ok(data), Some(r)));
            }
            match r.fill().await {
                Ok(true) => {}
                Ok(false) => return Some((Err(FormError::Truncated), None)),
                Err(e) => return Some((Err(e), None)),
            }
        }
    }))
}

/// Reads what follows the file (fields AWS ignores, the closing boundary), at
/// most `MAX_AFTER_FILE` bytes, so the response does not meet unread data.
async fn drain_rest(r: &mut Reader) {
    let mut seen = r.buf.len();
    r.buf.clear();
    while seen <= MAX_AFTER_FILE {
        match r.fill().await {
            Ok(true) => {
                seen += r.buf.len();
                r.buf.clear();
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn body_of(pieces: Vec<&'static [u8]>) -> s3s::Body {
        let stream = futures::stream::iter(
            pieces
                .into_iter()
                .map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p))),
        );
        s3s::Body::from(s3s::dto::StreamingBlob::wrap(stream))
    }

    async fn collect(mut s: FileStream) -> Result<Vec<u8>, FormError> {
        let mut out = Vec::new();
        while let Some(piece) = s.next().await {
            out.extend_from_slice(&piece?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn fields_then_file_in_small_pieces() {
        let raw: &'static [u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"Key\"\r\n\r\nuser/${filename}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--Xy world\r\n--XyZ\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nx\r\n--XyZ--\r\n";
        for size in [1usize, 3, 7, 1000] {
            let pieces: Vec<&'static [u8]> = raw.chunks(size).collect();
            let form = read(body_of(pieces), "XyZ").await.unwrap();
            assert_eq!(form.fields.field("key"), Some("user/${filename}"));
            assert_eq!(form.fields.field("policy"), Some("abc"));
            assert_eq!(form.fields.0.len(), 2);
            assert_eq!(form.file.filename, "a;b.txt");
            assert_eq!(form.file.content_type.as_deref(), Some("text/plain"));
            assert_eq!(
                collect(form.file.body).await.unwrap(),
                b"hello\r\n--Xy world"
            );
        }
    }

    #[tokio::test]
    async fn missing_file_and_truncated_file() {
        let raw: &'static [u8] =
            b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n";
        assert!(matches!(
            read(body_of(vec![raw]), "b").await,
            Err(FormError::NoFile)
        ));
        let raw: &'static [u8] =
            b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nhalf a file";
        let form = read(body_of(vec![raw]), "b").await.unwrap();
        assert!(matches!(
            collect(form.file.body).await,
            Err(FormError::Truncated)
        ));
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("multipart/form-data").as_deref(), None);
        assert_eq!(boundary("text/plain; boundary=x").as_deref(), None);
    }
}
