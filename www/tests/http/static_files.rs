//! Static files: the demo page at /, the wasm package at /pkg/, revalidated on every load.

use reqwest::Method;

use crate::common::{Options, TestServer, temp_dir};

async fn server_with_files() -> TestServer {
    let site = temp_dir("site");
    std::fs::write(site.join("index.html"), "<!doctype html><title>demo</title>").unwrap();
    let pkg = temp_dir("pkg");
    std::fs::write(pkg.join("session_keeper_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("session_keeper.js"), "export default 1;").unwrap();
    std::fs::write(pkg.join("session_keeper.d.ts"), "export {};").unwrap();
    std::fs::write(pkg.join("worker.mjs"), "export {};").unwrap();
    std::fs::write(pkg.join(".gitignore"), "*").unwrap();
    std::fs::write(site.join(".hidden"), "secret").unwrap();
    std::fs::create_dir_all(site.join(".git")).unwrap();
    std::fs::write(site.join(".git/config"), "secret").unwrap();
    let mut options = Options::default();
    options.app.static_dir = site;
    options.app.pkg_dir = pkg;
    TestServer::with(options).await
}

#[tokio::test]
async fn the_demo_page_and_the_package_are_served_without_caching() {
    let server = server_with_files().await;
    let page = server.get("/").await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert!(page.text().contains("<title>demo</title>"));

    let wasm = server.get("/pkg/session_keeper_bg.wasm").await;
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.header("cache-control"), Some("no-cache"));
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");

    let js = server.get("/pkg/session_keeper.js").await;
    assert_eq!(js.header("content-type"), Some("text/javascript; charset=utf-8"));
    for (path, content_type) in [
        ("/pkg/session_keeper.d.ts", "application/typescript; charset=utf-8"),
        ("/pkg/worker.mjs", "text/javascript; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{path}");
    }
    let api = server.get("/healthz").await;
    assert_eq!(api.header("x-content-type-options"), Some("nosniff"), "on every response");
}

#[tokio::test]
async fn dotfiles_and_symlinks_out_of_the_folder_are_not_served() {
    let server = server_with_files().await;
    let site = &server.state.config().static_dir;
    let outside = temp_dir("outside");
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), site.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, site.join("leakdir")).unwrap();
    std::os::unix::fs::symlink(site.join("index.html"), site.join("inside.html")).unwrap();
    for path in [
        "/.hidden",
        "/%2ehidden",
        "/pkg/.gitignore",
        "/.git/config",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/leakdir/",
    ] {
        let reply = server.get(path).await;
        reply.assert_error(404, "ERR_NOT_FOUND");
        assert!(!reply.text().contains("secret"), "{path}");
    }
    assert_eq!(server.get("/inside.html").await.status, 200, "a link inside the folder is fine");
}

#[tokio::test]
async fn missing_files_and_wrong_methods_are_json_errors() {
    let server = server_with_files().await;
    server.get("/nope.html").await.assert_error(404, "ERR_NOT_FOUND");
    server.get("/pkg/nope.wasm").await.assert_error(404, "ERR_NOT_FOUND");
    server.get("/../Cargo.toml").await.assert_error(404, "ERR_NOT_FOUND");
    server.get("/%2e%2e/%2e%2e/etc/passwd").await.assert_error(404, "ERR_NOT_FOUND");
    let reply = server.send(Method::POST, "/", None, "x").await;
    reply.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
    assert!(reply.header("allow").unwrap().contains("GET"));
}

#[tokio::test]
async fn the_default_folders_are_found_from_any_working_directory() {
    let config = keeper_server::AppConfig::default();
    assert!(config.static_dir.is_absolute());
    assert!(config.static_dir.ends_with("www/demo"));
    assert!(config.pkg_dir.is_absolute());
    assert_eq!(config.pkg_dir.parent(), std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent());
}
