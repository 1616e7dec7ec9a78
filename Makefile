# mount_md — build and install.
#
#   make                      # cargo build --release
#   make install              # as root; PREFIX=/usr/local by default
#   make uninstall            # as root: removes what install made (the
#                             # binary, the man page, the completions, the
#                             # mount.md links); directories stay
#
# Variables: PREFIX (/usr/local), SBINDIR ($(PREFIX)/sbin),
# MANDIR ($(PREFIX)/share/man), DESTDIR (staging root, empty),
# BASHCOMPDIR ($(PREFIX)/share/bash-completion/completions) and
# ZSHCOMPDIR ($(PREFIX)/share/zsh/site-functions): where the completion
# scripts go, written by the built binary (`mount_md --completion=SHELL`);
# HELPERDIR (/sbin): on Linux, where the mount.md symlink goes so that
# util-linux mount(8) finds it (it looks in /sbin:/sbin/fs.d:/sbin/fs; on
# merged-/usr systems /sbin is /usr/sbin). Set HELPERDIR= (empty) to skip it.
#
# Written for both GNU make and BSD make: no conditionals, the OS test is in
# the shell.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
HELPERDIR ?= /sbin
DESTDIR ?=
CARGO ?= cargo
INSTALL ?= install

BIN = target/release/mount_md
MAN = man/mount_md.8

# cargo decides what is out of date.
all:
	$(CARGO) build --release --locked

# Builds only if there is no binary yet: `make`, then as root `make install`.
$(BIN):
	$(CARGO) build --release --locked

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR)
	$(INSTALL) -m 0555 $(BIN) $(DESTDIR)$(SBINDIR)/mount_md
	@if [ -f $(MAN) ]; then \
		echo "$(INSTALL) -m 0444 $(MAN) $(DESTDIR)$(MANDIR)/man8/mount_md.8"; \
		$(INSTALL) -d $(DESTDIR)$(MANDIR)/man8 && \
		$(INSTALL) -m 0444 $(MAN) $(DESTDIR)$(MANDIR)/man8/mount_md.8 && \
		if [ "$$(uname -s)" = Linux ]; then \
			echo "ln -sfn mount_md.8 $(DESTDIR)$(MANDIR)/man8/mount.md.8"; \
			ln -sfn mount_md.8 $(DESTDIR)$(MANDIR)/man8/mount.md.8; \
		fi; \
	fi
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	$(BIN) --completion=bash > $(DESTDIR)$(BASHCOMPDIR)/mount_md
	chmod 0444 $(DESTDIR)$(BASHCOMPDIR)/mount_md
	ln -sfn mount_md $(DESTDIR)$(BASHCOMPDIR)/mount.md
	$(BIN) --completion=zsh > $(DESTDIR)$(ZSHCOMPDIR)/_mount_md
	chmod 0444 $(DESTDIR)$(ZSHCOMPDIR)/_mount_md
	@if [ "$$(uname -s)" = Linux ] && [ -n "$(HELPERDIR)" ]; then \
		link=$(DESTDIR)$(HELPERDIR)/mount.md; \
		if [ -e "$$link" ] && [ ! -L "$$link" ]; then \
			echo "make: $$link exists and is not a symlink; not replacing it" >&2; exit 1; \
		fi; \
		echo "ln -sfn $(SBINDIR)/mount_md $$link"; \
		$(INSTALL) -d $(DESTDIR)$(HELPERDIR) && ln -sfn $(SBINDIR)/mount_md "$$link"; \
	fi

uninstall:
	@if [ -n "$(HELPERDIR)" ]; then \
		link=$(DESTDIR)$(HELPERDIR)/mount.md; \
		if [ -L "$$link" ] && [ "$$(readlink "$$link")" = "$(SBINDIR)/mount_md" ]; then \
			echo "rm -f $$link"; rm -f "$$link"; \
		fi; \
	fi
	@link=$(DESTDIR)$(MANDIR)/man8/mount.md.8; \
	if [ -L "$$link" ] && [ "$$(readlink "$$link")" = mount_md.8 ]; then echo "rm -f $$link"; rm -f "$$link"; fi
	@if [ -f $(MAN) ]; then echo "rm -f $(DESTDIR)$(MANDIR)/man8/mount_md.8"; rm -f $(DESTDIR)$(MANDIR)/man8/mount_md.8; fi
	@link=$(DESTDIR)$(BASHCOMPDIR)/mount.md; \
	if [ -L "$$link" ] && [ "$$(readlink "$$link")" = mount_md ]; then echo "rm -f $$link"; rm -f "$$link"; fi
	rm -f $(DESTDIR)$(BASHCOMPDIR)/mount_md $(DESTDIR)$(ZSHCOMPDIR)/_mount_md
	rm -f $(DESTDIR)$(SBINDIR)/mount_md

clean:
	$(CARGO) clean

.PHONY: all install uninstall clean
