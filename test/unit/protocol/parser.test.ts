import { describe as suite, expect, it } from 'vitest';
import { everySplit, run } from './parse-helpers.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const reply = (s: string): string => `reply ${JSON.stringify(s)}`;
const ERROR = reply('ERROR\r\n');
const BAD = reply('CLIENT_ERROR bad command line format\r\n');

suite('RequestParser: valid commands, at every split point', () => {
  const cases: [string, string[]][] = [
    ['get foo\r\n', ['get keys="foo"']],
    ['get a b c\r\n', ['get keys="a","b","c"']],
    ['get a a\r\n', ['get keys="a","a"']],
    ['gets  a   b \r\n', ['gets keys="a","b"']],
    ['gat 100 a b\r\n', ['gat keys="a","b" exptime=100']],
    ['gats -1 a\r\n', ['gats keys="a" exptime=-1']],
    ['gat 10\r\n', ['gat exptime=10']],
    ['bget k\r\n', ['get keys="k"']],
    ['set k 5 100 3\r\nabc\r\n', ['set keys="k" flags=5 exptime=100 value="abc"']],
    ['set k 0 0 0\r\n\r\n', ['set keys="k" value=""']],
    ['set k 0 0 4 noreply\r\na\r\nb\r\n', ['set keys="k" value="a\\r\\nb" noreply']],
    ['set k 0 0 1 garbage\r\nx\r\n', ['set keys="k" value="x"']],
    ['add k 1 2 1\r\nx\r\nreplace k 1 2 1\r\ny\r\n', ['add keys="k" flags=1 exptime=2 value="x"', 'replace keys="k" flags=1 exptime=2 value="y"']],
    ['append k 0 0 1\r\nx\r\nprepend k 0 0 1\r\ny\r\n', ['append keys="k" value="x"', 'prepend keys="k" value="y"']],
    ['cas k 0 0 1 99\r\nx\r\n', ['cas keys="k" value="x" number=99']],
    ['cas k 0 0 1 +7 noreply\r\nx\r\n', ['cas keys="k" value="x" number=7 noreply']],
    ['set k 4294967296 0 1\r\nx\r\n', ['set keys="k" value="x"']],
    ['set k 4294967297 0 1\r\nx\r\n', ['set keys="k" flags=1 value="x"']],
    ['set k 0 0 4294967297\r\nx\r\n', ['set keys="k" value="x"']],
    ['delete k\r\ndelete k 0\r\ndelete k noreply\r\ndelete k 0 noreply\r\n', ['delete keys="k"', 'delete keys="k"', 'delete keys="k" noreply', 'delete keys="k" noreply']],
    ['incr k 5\r\ndecr k 18446744073709551615 noreply\r\n', ['incr keys="k" number=5', 'decr keys="k" number=18446744073709551615 noreply']],
    ['touch k 10\r\n', ['touch keys="k" exptime=10']],
    ['version\r\nverbosity 1\r\nverbosity 1 noreply\r\n', ['version', reply('OK\r\n')]],
    ['flush_all\r\nflush_all 10\r\nflush_all noreply\r\n', ['flush_all', 'flush_all exptime=10 hasArg', 'flush_all noreply']],
    ['stats\r\nstats backends\r\n', ['stats', 'stats sub=backends']],
    ['get a\nget b\n', ['get keys="a"', 'get keys="b"']],
    ['set k 0 0 1\nx\r\nget k\n', ['set keys="k" value="x"', 'get keys="k"']],
    ['get a\x00junk\r\n', ['get keys="a"']],
    ['get a\tb\r\n', ['get keys="a\\tb"']],
    ['mn\r\n', [reply('MN\r\n')]],
    ['mg foo v f t\r\n', ['mg keys="foo" line="mg foo v f t"']],
    ['mg foo v q k\r\n', ['mg keys="foo" line="mg foo v k" noreply']],
    ['mg Zm9v b v\r\n', ['mg keys="Zm9v" line="mg Zm9v b v" hash="foo"']],
    // memcached's base64_decode skips bytes outside the alphabet and stops after a group with '='.
    ['md fz8_a b k\r\n', [`md keys="fz8_a" line="md fz8_a b k" hash=${JSON.stringify(Buffer.from('fz8a', 'base64').toString('latin1'))}`]],
    ['mg %Zm9v% b v\r\n', ['mg keys="%Zm9v%" line="mg %Zm9v% b v" hash="foo"']],
    ['mg Zg==Zm9v b v\r\n', ['mg keys="Zg==Zm9v" line="mg Zg==Zm9v b v" hash="f"']],
    ['mg Z=g=Zm9v b v\r\n', ['mg keys="Z=g=Zm9v" line="mg Z=g=Zm9v b v" hash="d"']],
    ['me Zm9v_ b\r\n', ['me keys="Zm9v_" line="me Zm9v_ b" hash="foo"']],
    ['ms foo 2 T10 F5\r\nhi\r\n', ['ms keys="foo" value="hi" line="ms foo 2 T10 F5"']],
    ['ms foo 2 q MS\r\nhi\r\n', ['ms keys="foo" value="hi" line="ms foo 2 MS" noreply']],
    ['md foo q\r\nma foo D5 MI\r\nme foo\r\n', ['md keys="foo" line="md foo" noreply', 'ma keys="foo" line="ma foo D5 MI"', 'me keys="foo" line="me foo"']],
    ['quit\r\nget a\r\n', ['quit']],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => {
      expect(everySplit(b(input))).toEqual(expected);
    });
  }
});

suite('RequestParser: bad input gets memcached 1.6.18 replies', () => {
  const cases: [string, string[]][] = [
    ['foo bar\r\n', [ERROR]],
    ['\r\n', [ERROR]],
    ['\n', [ERROR]],
    ['x\r\n', [ERROR]],
    ['get\r\n', [ERROR]],
    ['set k 0 0\r\n', [ERROR]],
    ['set k 0 0 1 noreply extra\r\n', [ERROR]],
    [`get ${'a'.repeat(251)}\r\n`, [BAD]],
    [`get a ${'a'.repeat(251)}\r\n`, [BAD]],
    [`get ${'a'.repeat(250)}\r\n`, [`get keys="${'a'.repeat(250)}"`]],
    ['set k 0 0 -1\r\n', [BAD]],
    ['set k abc 0 1\r\nx\r\n', [BAD, ERROR]],
    ['set k -1 0 1\r\nx\r\n', [BAD, ERROR]],
    ['set k 0 0 -1 noreply\r\nxyz\r\n', [ERROR]],
    [`set ${'k'.repeat(251)} 0 0 1\r\nx\r\n`, [BAD, ERROR]],
    ['set k 0 0 1\r\nxyz\r\n', [reply('CLIENT_ERROR bad data chunk\r\n'), ERROR]],
    ['set k 0 0 1 noreply\r\nxyz\r\n', [ERROR]],
    ['set k 0 0 2000000\r\n', ['set keys="k" tooLarge']],
    ['cas k 0 0 1 abc\r\nx\r\n', [BAD, ERROR]],
    ['cas k 0 0 1 -1\r\nx\r\n', [BAD, ERROR]],
    ['incr k abc\r\n', [reply('CLIENT_ERROR invalid numeric delta argument\r\n')]],
    ['incr k abc noreply\r\n', []],
    ['incr k -1\r\n', [reply('CLIENT_ERROR invalid numeric delta argument\r\n')]],
    ['delete k 10\r\n', [reply('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n')]],
    ['delete k 10 noreply\r\n', []],
    ['delete k 0 0\r\n', [reply('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n')]],
    ['touch k abc\r\n', [reply('CLIENT_ERROR invalid exptime argument\r\n')]],
    ['gat abc k\r\n', [reply('CLIENT_ERROR invalid exptime argument\r\n')]],
    ['verbosity\r\n', [ERROR]],
    ['verbosity x\r\n', [BAD]],
    ['flush_all x\r\n', [reply('CLIENT_ERROR invalid exptime argument\r\n')]],
    ['stats detail\r\n', [reply('CLIENT_ERROR usage: stats detail on|off|dump\r\n')]],
    ['stats detail on\r\nstats detail dump\r\nstats detail x\r\n', [reply('OK\r\n'), reply('END\r\n'), reply('CLIENT_ERROR usage: stats detail on|off|dump\r\n')]],
    ['slabs\r\nslabs reassign 1\r\nlru_crawler\r\nlru_crawler enable\r\n', [ERROR, ERROR, ERROR, reply('SERVER_ERROR command not supported by memshift\r\n')]],
    ['ms k 1 O1234567890123456789012345678901234567890 MX\r\nx\r\n', [reply('CLIENT_ERROR invalid mode for ms M token\r\n')]],
    ['ma k q v\r\n', ['ma keys="k" line="ma k q v" noreply']],
    ['GET / HTTP/1.0\r\nget a\r\n', ['close (HTTP request)']],
    ['foo noreply\r\n', [ERROR]],
    ['mz foo\r\n', [ERROR]],
    ['mg\r\n', [ERROR]],
    ['mg foo zz\r\n', [reply('CLIENT_ERROR invalid flag\r\n')]],
    ['mg foo v v\r\n', [reply('CLIENT_ERROR duplicate flag\r\n')]],
    ['mg foo Tabc\r\n', [reply('CLIENT_ERROR bad token in command line format\r\n')]],
    ['mg foo q zz\r\n', [reply('CLIENT_ERROR invalid flag\r\n')]],
    ['md foo zz\r\n', [reply('CLIENT_ERROR invalid or duplicate flag\r\n')]],
    ['ms foo\r\n', [BAD]],
    ['ms foo x\r\n', [BAD]],
    ['ms foo 2 MX\r\nhi\r\n', [reply('CLIENT_ERROR invalid mode for ms M token\r\n')]],
    ['ms foo 2 q\r\nhiX\r\n', [reply('CLIENT_ERROR bad data chunk\r\n'), ERROR]],
    ['ma foo MX\r\n', [reply('CLIENT_ERROR invalid mode for ma M token\r\n')]],
    ['mg %%% b\r\n', [reply('CLIENT_ERROR error decoding key\r\n')]],
    ['mg Z=== b v\r\n', [reply('CLIENT_ERROR error decoding key\r\n')]],
    ['md Zg= b k\r\n', [reply('CLIENT_ERROR invalid or duplicate flag\r\n')]],
    ['me Zm9 b\r\n', [BAD]],
    ['me\r\n', [BAD]],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input), () => {
      expect(everySplit(b(input))).toEqual(expected);
    });
  }
});

suite('RequestParser: limits', () => {
  it('closes a line with no newline past 2048 bytes', () => {
    expect(run([b('x'.repeat(2049))])).toEqual(['close (line too long without a newline)']);
    expect(run([b('x'.repeat(2048))])).toEqual([]);
  });
  it('keeps reading a long get line, up to max_get_line', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `key${i}`).join(' ');
    const events = run([b(`get ${keys}`), b('\r\n')]);
    expect(events).toHaveLength(1);
    expect(events[0]!.split(',').length).toBe(3000);
    expect(run([b(`gets ${'k '.repeat(2000)}`)])).toEqual([]);
    expect(run([b(`get ${'k '.repeat(600)}`)], { maxItemSize: 100, maxGetLineBytes: 1000 })).toEqual([
      'close (get line over max_get_line)',
    ]);
  });
  it('swallows an oversized value without buffering it', () => {
    const limits = { maxItemSize: 10, maxGetLineBytes: 4096 };
    expect(run([b('set k 0 0 11\r\n'), b('x'.repeat(11)), b('\r\nget k\r\n')], limits)).toEqual(['set keys="k" tooLarge', 'get keys="k"']);
    expect(run([b('ms k 11 T0 q\r\n'), b('x'.repeat(11)), b('\r\nmn\r\n')], limits)).toEqual(['ms keys="k" line="md k" tooLarge', reply('MN\r\n')]);
    expect(run([b('ms Zm9v 11 b\r\n'), b('x'.repeat(13))], limits)).toEqual(['ms keys="Zm9v" line="md Zm9v b" tooLarge hash="foo"']);
  });
  it('never throws on random bytes', () => {
    let seed = 42;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const alphabet = b('getsmadcvrq 0123456789\r\n\x00\x80-+VALUEEND');
    for (let round = 0; round < 300; round++) {
      const bytes = Buffer.alloc(200, 0).map(() => alphabet[rnd() % alphabet.length]!);
      expect(() => everySplit(Buffer.from(bytes))).not.toThrow();
    }
  });
});
