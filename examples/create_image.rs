//! Creates an image exactly as `mount_md --create` does, and nothing else,
//! so bench/run can time image creation on its own against dd/fallocate.
//!
//!     create_image PATH SIZE reserve|sparse
use mount_md::platform::posix::{open_image, CreateMode};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, size, mode] = &args[..] else {
        eprintln!("usage: create_image PATH SIZE reserve|sparse");
        std::process::exit(2);
    };
    let size = mount_md::size::parse_size(size).unwrap_or_else(|e| {
        eprintln!("create_image: {e}");
        std::process::exit(2)
    });
    let mode = if mode == "sparse" { CreateMode::Sparse } else { CreateMode::Reserve };
    match open_image(Path::new(path), Some((size, mode)), false) {
        Ok(img) if img.created => {}
        Ok(_) => {
            eprintln!("create_image: {path}: exists");
            std::process::exit(1)
        }
        Err(e) => {
            eprintln!("create_image: {e}");
            std::process::exit(1)
        }
    }
}
