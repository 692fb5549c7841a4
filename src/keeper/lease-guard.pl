#!/usr/bin/perl
# The lease guard: a tiny process of its own that kills the local Postgres
# when the write lease it was last told about runs out. It exists for the
# cases the keeper cannot handle itself: a keeper whose event loop is stuck,
# or that is stopped (SIGSTOP) or killed while Postgres keeps serving.
#
# Perl, not a second Node.js runtime: it needs a few MB instead of ~55, and
# Debian's PostgreSQL packages depend on perl already (postgresql-common).
# Time::HiRes reads CLOCK_MONOTONIC, the clock of the keeper's
# process.hrtime, so lease ends cross the pipe as absolute instants.
#
# The keeper sends, on stdin, one line per change:
#   lease <end>   the lease ends at <end> (CLOCK_MONOTONIC nanoseconds)
#   none          no lease is needed now (standby, stopped, ...)
#   release       exit now (the keeper stops cleanly)
# When stdin closes (the keeper died), the guard enforces the last lease it
# knew, then exits. SIGTERM makes it exit without killing anything (a new
# keeper took over with a guard of its own).
#
# Usage: perl lease-guard.pl <pgdata>
#
# Modules cost memory (perl alone ~5 MB RSS; POSIX ~2 MB more, IO::Select
# ~1 MB): the only one loaded is Time::HiRes, for the clock. Waiting on
# stdin uses the builtin 4-argument select.
use strict;
use warnings;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my $pgdata = shift @ARGV;
exit 2 if !defined $pgdata || $pgdata eq '';

$SIG{TERM} = sub { exit 0 };
$SIG{INT} = 'IGNORE';
$SIG{HUP} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';

my $TICK = 0.02;    # seconds between two looks at the clock

sub now_ns { return clock_gettime(CLOCK_MONOTONIC) * 1e9 }

# The state letter and parent pid of a process (undef when gone).
sub proc_stat {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/stat") or return;
    my $stat = do { local $/; <$fh> };
    close $fh;
    return if !defined $stat;
    # Fields after the command name (which may hold spaces) start after the last ')'.
    my $rest = substr($stat, rindex($stat, ')') + 2);
    my ($state, $ppid) = split / /, $rest;
    return ($state, $ppid);
}

sub children_of {
    my ($parent) = @_;
    opendir(my $dh, '/proc') or return ();
    my @children;
    for my $name (readdir $dh) {
        next if $name !~ /^\d+$/;
        my (undef, $ppid) = proc_stat($name);
        push @children, $name if defined $ppid && $ppid == $parent;
    }
    closedir $dh;
    return @children;
}

# Kills the postmaster of $pgdata and all its processes at once: stop the
# postmaster (it forks no new backend), kill its children, then kill it.
# Same procedure as fence.ts killPostgresNow.
sub kill_postgres {
    open(my $fh, '<', "$pgdata/postmaster.pid") or return;
    my $line = <$fh>;
    close $fh;
    return if !defined $line;
    my ($pid) = $line =~ /^\s*(\d+)/;
    return if !defined $pid || $pid <= 0 || !kill(0, $pid);
    my ($state) = proc_stat($pid);
    if (!defined $state) {
        kill 'QUIT', $pid;
        kill 'KILL', $pid;
        return;
    }
    kill 'STOP', $pid;
    my $until = now_ns() + 200e6;
    while (now_ns() < $until) {
        ($state) = proc_stat($pid);
        last if !defined $state || $state eq 'T' || $state eq 'Z';
    }
    kill 'KILL', $_ for children_of($pid);
    kill 'KILL', $pid;
}

my $deadline;           # CLOCK_MONOTONIC ns, or undef: no lease to enforce
my $keeper_alive = 1;
my $buffer = '';
my $stdin_bits = '';
vec($stdin_bits, fileno(STDIN), 1) = 1;

# True when stdin has data (or end of file) within $TICK seconds.
sub stdin_ready {
    my $ready = select(my $bits = $stdin_bits, undef, undef, $TICK);
    return $ready > 0;
}

while (1) {
    if ($keeper_alive && stdin_ready()) {
        my $n = sysread(STDIN, $buffer, 4096, length $buffer);
        if (!$n) {
            $keeper_alive = 0;
            exit 0 if !defined $deadline;
        }
        while ($buffer =~ s/^([^\n]*)\n//) {
            my ($command, $argument) = split ' ', $1;
            next if !defined $command;
            if ($command eq 'lease' && defined $argument && $argument =~ /^\d+$/) { $deadline = $argument + 0 }
            elsif ($command eq 'none') { $deadline = undef }
            elsif ($command eq 'release') { exit 0 }
        }
    }
    elsif (!$keeper_alive) {
        select(undef, undef, undef, $TICK);
    }
    if (defined $deadline && now_ns() >= $deadline) {
        kill_postgres();
        $deadline = undef;
        exit 0 if !$keeper_alive;
    }
}
