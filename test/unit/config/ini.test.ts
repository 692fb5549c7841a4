import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { iniValue, parseIni, renderIni } from '../../../src/config/index.js';

describe('ini', () => {
  it('parses sections and keys, trimming spaces, keeping values verbatim', () => {
    const result = parseIni('[a]\n  x =  1 \ny=postgres://u@h:5/db?sslmode=require\npassword = p;w #1\n\r\n[b]\nz =\n');
    assert.ok(result.ok);
    assert.equal(iniValue(result.value, 'a', 'x'), '1');
    assert.equal(iniValue(result.value, 'a', 'y'), 'postgres://u@h:5/db?sslmode=require');
    assert.equal(iniValue(result.value, 'a', 'password'), 'p;w #1');
    assert.equal(iniValue(result.value, 'b', 'z'), '');
    assert.equal(iniValue(result.value, 'b', 'missing'), undefined);
    assert.equal(iniValue(result.value, 'c', 'x'), undefined);
  });

  it('keeps the last value of a repeated key and merges repeated sections', () => {
    const result = parseIni('[a]\nx = 1\n[b]\n[a]\nx = 2\ny = 3\n');
    assert.ok(result.ok);
    assert.equal(iniValue(result.value, 'a', 'x'), '2');
    assert.equal(iniValue(result.value, 'a', 'y'), '3');
  });

  it('accepts CRLF line ends and comments', () => {
    const result = parseIni('# c\r\n; c\r\n[a]\r\nx = 1\r\n');
    assert.ok(result.ok);
    assert.equal(iniValue(result.value, 'a', 'x'), '1');
  });

  it('renders sections in order, omitting empty strings and empty sections', () => {
    const text = renderIni([
      { name: 'one', entries: [['a', 'x'], ['b', ''], ['c', 0]] },
      { name: 'empty', entries: [['d', '']] },
      { name: 'two', entries: [['e', -1]] },
    ]);
    assert.equal(text, '[one]\na = x\nc = 0\n\n[two]\ne = -1\n');
    assert.equal(renderIni([]), '');
  });
});
