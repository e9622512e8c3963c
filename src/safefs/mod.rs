//! The filesystem as ozrepair writes it, never through a link: a checked directory and the files made in it
//! ([`dir`]), ozrepair's own lock file ([`lock`]), and what is made in a directory belonging to that
//! directory's owner ([`owner`]). A leaf: it knows nothing of engines, stores or Dex.

pub mod dir;
pub mod lock;
pub mod owner;

pub use dir::Dir;
