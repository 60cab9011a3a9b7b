//! The part of SPDY/3.1 that port-forwarding uses, server side: frame parsing and writing for
//! SYN_STREAM, SYN_REPLY, DATA, RST_STREAM, PING and GOAWAY (SETTINGS, WINDOW_UPDATE and
//! HEADERS are read and ignored: client-go's spdystream keeps no flow-control windows).
//!
//! Hand-written because no maintained SPDY crate exists (the protocol was superseded by HTTP/2);
//! the layout is draft 3.1's (https://www.chromium.org/spdy/spdy-protocol/spdy-protocol-draft3-1/)
//! as moby/spdystream implements it. Header blocks are one zlib stream per direction for the
//! whole connection, primed with the draft's dictionary (built in [`dictionary`]); flate2's
//! zlib-rs backend provides the preset dictionary.

use std::sync::LazyLock;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

const VERSION: u16 = 3;
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
pub(super) const FLAG_FIN: u8 = 0x01;
/// RST_STREAM status: the stream is not known.
pub(super) const INVALID_STREAM: u32 = 2;
/// The largest frame accepted (a header block or a data chunk); kubectl sends far less.
const MAX_FRAME: usize = 1 << 24;
/// A decompressed header block larger than this is refused.
const MAX_HEADERS: usize = 1 << 20;

/// The names of draft 3's dictionary, each stored length-prefixed, then its literal tail.
const DICTIONARY_WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];
const DICTIONARY_TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/// SPDY/3's zlib dictionary (1423 bytes).
pub(super) fn dictionary() -> &'static [u8] {
    static DICT: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let mut out = Vec::with_capacity(1423);
        for word in DICTIONARY_WORDS {
            out.extend_from_slice(&(word.len() as u32).to_be_bytes());
            out.extend_from_slice(word.as_bytes());
        }
        out.extend_from_slice(DICTIONARY_TAIL.as_bytes());
        out
    });
    &DICT
}

/// One frame as read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Frame {
    SynStream {
        id: u32,
        fin: bool,
        headers: Vec<(String, String)>,
    },
    Data {
        id: u32,
        fin: bool,
        data: Bytes,
    },
    RstStream {
        id: u32,
    },
    Ping(u32),
    GoAway,
    /// SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY from a client: nothing to do.
    Ignored,
}

/// The per-connection header compression state.
pub(super) struct Codec {
    inflate: Decompress,
    deflate: Compress,
}

impl Codec {
    pub(super) fn new() -> Result<Codec, String> {
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(dictionary())
            .map_err(|e| format!("zlib dictionary: {e}"))?;
        Ok(Codec {
            inflate: Decompress::new(true),
            deflate,
        })
    }

    /// Takes one whole frame off the front of `buf`, if it holds one.
    pub(super) fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, String> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let flags = buf[4];
        let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
        if len > MAX_FRAME {
            return Err(format!("frame of {len} bytes is too large"));
        }
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let head = buf.split_to(8);
        let mut body = buf.split_to(len).freeze();
        let fin = flags & FLAG_FIN != 0;
        if head[0] & 0x80 == 0 {
            let id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
            return Ok(Some(Frame::Data {
                id,
                fin,
                data: body,
            }));
        }
        let version = u16::from_be_bytes([head[0] & 0x7f, head[1]]);
        if version != VERSION {
            return Err(format!("unsupported SPDY version {version}"));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let need = |n: usize, body: &Bytes| {
            if body.len() < n {
                Err(format!("control frame {kind} is too short"))
            } else {
                Ok(())
            }
        };
        Ok(Some(match kind {
            SYN_STREAM => {
                need(10, &body)?;
                let id = body.get_u32() & 0x7fff_ffff;
                body.advance(6); // associated stream, priority, slot
                let headers = self.headers(&body)?;
                Frame::SynStream { id, fin, headers }
            }
            RST_STREAM => {
                need(8, &body)?;
                Frame::RstStream {
                    id: body.get_u32() & 0x7fff_ffff,
                }
            }
            PING => {
                need(4, &body)?;
                Frame::Ping(body.get_u32())
            }
            GOAWAY => Frame::GoAway,
            _ => Frame::Ignored,
        }))
    }

    fn headers(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::with_capacity(256);
        let mut input = block;
        loop {
            if out.capacity() - out.len() < 256 {
                out.reserve(1024);
            }
            let before_in = self.inflate.total_in();
            let before_out = self.inflate.total_out();
            let result = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let used = (self.inflate.total_in() - before_in) as usize;
            input = &input[used..];
            match result {
                Ok(Status::Ok | Status::BufError | Status::StreamEnd) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(dictionary())
                        .map_err(|e| format!("zlib dictionary: {e}"))?;
                    continue;
                }
                Err(e) => return Err(format!("header block: {e}")),
            }
            if out.len() > MAX_HEADERS {
                return Err("header block too large".into());
            }
            let progressed = self.inflate.total_out() != before_out || used > 0;
            if input.is_empty() && out.len() < out.capacity() || !progressed {
                break;
            }
        }
        decode_headers(&out)
    }

    fn compress(&mut self, block: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(block.len() + 64);
        let mut input = block;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(256);
            }
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| format!("header block: {e}"))?;
            input = &input[(self.deflate.total_in() - before) as usize..];
            // A sync flush is complete once input is used up and output did not fill the buffer.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// SYN_REPLY for `id`, with no headers.
    pub(super) fn syn_reply(&mut self, id: u32) -> Result<Bytes, String> {
        let block = self.compress(&0u32.to_be_bytes())?;
        let mut body = BytesMut::with_capacity(4 + block.len());
        body.put_u32(id & 0x7fff_ffff);
        body.put_slice(&block);
        Ok(control(SYN_REPLY, 0, &body))
    }
}

fn decode_headers(mut block: &[u8]) -> Result<Vec<(String, String)>, String> {
    let short = || "truncated header block".to_string();
    let take = |block: &mut &[u8]| -> Result<String, String> {
        if block.len() < 4 {
            return Err(short());
        }
        let n = u32::from_be_bytes([block[0], block[1], block[2], block[3]]) as usize;
        if block.len() < 4 + n {
            return Err(short());
        }
        let s = String::from_utf8_lossy(&block[4..4 + n]).into_owned();
        *block = &block[4 + n..];
        Ok(s)
    };
    if block.len() < 4 {
        return Err(short());
    }
    let count = u32::from_be_bytes([block[0], block[1], block[2], block[3]]) as usize;
    block = &block[4..];
    let mut out = Vec::new();
    for _ in 0..count {
        let name = take(&mut block)?;
        let value = take(&mut block)?;
        out.push((name.to_ascii_lowercase(), value));
    }
    Ok(out)
}

fn control(kind: u16, flags: u8, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + body.len());
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    out.put_u32(((flags as u32) << 24) | body.len() as u32);
    out.put_slice(body);
    out.freeze()
}

pub(super) fn data(id: u32, fin: bool, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + payload.len());
    out.put_u32(id & 0x7fff_ffff);
    let flags = if fin { FLAG_FIN } else { 0 };
    out.put_u32(((flags as u32) << 24) | payload.len() as u32);
    out.put_slice(payload);
    out.freeze()
}

pub(super) fn ping(id: u32) -> Bytes {
    control(PING, 0, &id.to_be_bytes())
}

pub(super) fn rst_stream(id: u32, status: u32) -> Bytes {
    let mut body = [0u8; 8];
    body[..4].copy_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
    body[4..].copy_from_slice(&status.to_be_bytes());
    control(RST_STREAM, 0, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_draft_3s() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\x00\x00\x00\x07options");
        assert!(d.ends_with(b"enq=0."));
    }

    /// A client's SYN_STREAM, compressed the way spdystream does it (a zlib stream with the
    /// dictionary), is read back with its headers; a second one on the same stream too.
    #[test]
    fn syn_streams_round_trip_through_one_zlib_stream() {
        let mut client = Compress::new(Compression::best(), true);
        client.set_dictionary(dictionary()).expect("dict");
        let mut server = Codec::new().expect("codec");
        let mut buf = BytesMut::new();
        for (id, kind) in [(1u32, "error"), (3, "data")] {
            let mut block = BytesMut::new();
            block.put_u32(2);
            for (k, v) in [("streamtype", kind), ("port", "8080")] {
                block.put_u32(k.len() as u32);
                block.put_slice(k.as_bytes());
                block.put_u32(v.len() as u32);
                block.put_slice(v.as_bytes());
            }
            let mut z = Vec::with_capacity(1024);
            client
                .compress_vec(&block, &mut z, FlushCompress::Sync)
                .expect("compress");
            let mut body = BytesMut::new();
            body.put_u32(id);
            body.put_u32(0);
            body.put_u16(0);
            body.put_slice(&z);
            buf.put_slice(&control(SYN_STREAM, FLAG_FIN, &body));
        }
        buf.put_slice(&data(3, true, b"hello"));
        buf.put_slice(&ping(7)[..5]); // a partial frame stays in the buffer
        let frames: Vec<Frame> =
            std::iter::from_fn(|| server.parse(&mut buf).expect("parse")).collect();
        assert_eq!(
            frames,
            vec![
                Frame::SynStream {
                    id: 1,
                    fin: true,
                    headers: vec![
                        ("streamtype".into(), "error".into()),
                        ("port".into(), "8080".into())
                    ],
                },
                Frame::SynStream {
                    id: 3,
                    fin: true,
                    headers: vec![
                        ("streamtype".into(), "data".into()),
                        ("port".into(), "8080".into())
                    ],
                },
                Frame::Data {
                    id: 3,
                    fin: true,
                    data: Bytes::from_static(b"hello")
                },
            ]
        );
        assert_eq!(buf.len(), 5);
    }

    /// SYN_REPLYs decode, with a peer's own zlib stream and the dictionary, to empty header
    /// blocks; the second reuses the first's compression context, as SPDY requires.
    #[test]
    fn syn_reply_decompresses_with_the_dictionary() {
        let mut server = Codec::new().expect("codec");
        let mut peer = Codec::new().expect("codec");
        for id in [1u32, 3] {
            let frame = server.syn_reply(id).expect("reply");
            assert_eq!(&frame[..4], &[0x80, 0x03, 0x00, 0x02]);
            assert_eq!(&frame[8..12], &id.to_be_bytes());
            assert_eq!(peer.headers(&frame[12..]).expect("headers"), vec![]);
        }
    }
}
