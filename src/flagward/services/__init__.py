"""Use cases. One function per command: keyword-only arguments, an explicit actor, one unit of work that
it commits, domain data returned. Services never see HTTP; they raise ``flagward.domain.errors``."""
