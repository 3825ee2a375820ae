//! A bounded, self-stopping heartbeat load for counting the server's instructions per heartbeat
//! (under `valgrind --tool=callgrind`, where rates mean nothing): creates `--sessions` sessions,
//! then sends exactly `--heartbeats` keep-alive heartbeats over `--connections` connections, one
//! request in flight per connection (as wrk does), and exits.
//!
//! ```sh
//! cargo run --release -p keeper-server --example heartbeat_load -- \
//!     --addr 127.0.0.1:8080 --sessions 1000 --heartbeats 20000 --connections 4
//! ```
//!
//! The requests are byte for byte those of `bench/lua/heartbeat.lua`: `Content-Type:
//! application/json`, the body `{}`, the sessions taken in turn. Every answer must be a 200 (a
//! 201 for the creates), so a run that counted anything else fails instead of measuring it.
//! Against the ceiling (`examples/ceiling.rs`), every create answers the same id, which the
//! ceiling's heartbeat route accepts as any other.
//!
//! Plain blocking sockets, one thread per connection: the load generator's own cost does not
//! matter here, only that it sends exactly the requests asked for.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    addr: SocketAddr,
    sessions: usize,
    heartbeats: usize,
    connections: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:8080".parse().map_err(|_| "bad default address")?,
        sessions: 1000,
        heartbeats: 20_000,
        connections: 4,
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let value = words.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("{flag}: cannot read {value:?}");
        match flag.as_str() {
            "--addr" => args.addr = value.parse().map_err(|_| format!("--addr: {value:?}"))?,
            "--sessions" => args.sessions = value.parse().map_err(bad)?,
            "--heartbeats" => args.heartbeats = value.parse().map_err(bad)?,
            "--connections" => args.connections = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.sessions == 0 || args.connections == 0 {
        return Err("--sessions and --connections must be at least 1".to_owned());
    }
    Ok(args)
}

/// One keep-alive connection that sends a request and reads its whole answer.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    body: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Self { reader: BufReader::new(stream.try_clone()?), writer: stream, body: Vec::new() })
    }

    /// Sends `request` and returns the answer's status; its body is left in `self.body`.
    fn exchange(&mut self, request: &[u8]) -> io::Result<u16> {
        self.writer.write_all(request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse().ok())
            .ok_or_else(|| io::Error::other(format!("not an HTTP status line: {line:?}")))?;
        let mut length = 0;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().map_err(io::Error::other)?;
            }
        }
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body)?;
        Ok(status)
    }
}

fn post(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\n\r\n{{}}"
    )
    .into_bytes()
}

fn create(args: &Args) -> io::Result<Vec<Vec<u8>>> {
    let mut client = Client::connect(args.addr)?;
    let request = post(args.addr, "/api/v1/session");
    let mut heartbeats = Vec::with_capacity(args.sessions);
    for _ in 0..args.sessions {
        let status = client.exchange(&request)?;
        let body = String::from_utf8_lossy(&client.body);
        let id = body
            .split_once("\"session_id\":\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(id, _)| id.to_owned());
        match (status, id) {
            (201, Some(id)) => {
                heartbeats.push(post(args.addr, &format!("/api/v1/session/{id}/heartbeat")));
            }
            _ => return Err(io::Error::other(format!("create answered {status}: {body}"))),
        }
    }
    Ok(heartbeats)
}

fn run(args: &Args) -> io::Result<()> {
    let requests = create(args)?;
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.connections)
            .map(|worker| {
                // Heartbeats are dealt out in turn, so every connection sends its share.
                let count = args.heartbeats / args.connections
                    + usize::from(worker < args.heartbeats % args.connections);
                let requests = &requests;
                scope.spawn(move || -> io::Result<()> {
                    if count == 0 {
                        return Ok(());
                    }
                    let mut client = Client::connect(args.addr)?;
                    for sent in 0..count {
                        let request =
                            &requests[(worker + sent * args.connections) % requests.len()];
                        let status = client.exchange(request)?;
                        if status != 200 {
                            let body = String::from_utf8_lossy(&client.body).into_owned();
                            return Err(io::Error::other(format!(
                                "heartbeat answered {status}: {body}"
                            )));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|worker| worker.join().expect("a worker panicked"))
    })?;
    let took = started.elapsed();
    println!(
        "{} sessions created, {} heartbeats over {} connections in {:.2?}",
        args.sessions, args.heartbeats, args.connections, took
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("heartbeat_load: {error}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("heartbeat_load: {error}");
            ExitCode::FAILURE
        }
    }
}
