"""Numba sampler of a compiled PCFG (see ``generators/pcfg.py`` for the arrays).

The rules of nonterminal A are ``lhs_start[A]:lhs_start[A+1]``; rule r is
kept with probability ``alias_p[r]`` when its slot is drawn, else it gives way
to rule ``alias_r[r]`` (Walker's alias tables, one uniform per expansion).
Symbols on the right-hand sides are encoded as ``x >= 0``: terminal x, and
``x < 0``: nonterminal ``-x - 1``.  Random numbers come from splitmix64 on a
one-word state that the caller passes in and gets back advanced, so a seed
fixes the output and chunked calls continue one stream.
"""
import numpy as np
from numba import njit
from tying.core import kernel_cache

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True)
def uniform(state):
    """splitmix64: a uniform float64 in [0, 1) with 53 random bits."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * _MUL1
    z = (z ^ (z >> np.uint64(27))) * _MUL2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _grow(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def sample_sentences(n, cap, max_tries, lhs_start, alias_p, alias_r, rhs_off, rhs, min_yield, start,
                     max_len, max_depth, state):
    """Draw trees top-down, leftmost first, until n are accepted or max_tries
    trees were drawn.  ``cap`` is the first size of the token buffer, which grows.

    A tree is rejected (and drawn afresh) when its yield would exceed max_len,
    a nonterminal sits deeper than max_depth, or its yield is empty; so the
    accepted sentences follow the PCFG conditioned on the guards.  A tree is
    abandoned as soon as the symbols already emitted plus the least yield of
    the pending ones exceed max_len: that tree could only be rejected.

    Returns (tokens, offsets, rule_counts of accepted trees,
    rejected = [too long, too deep, empty], trees drawn).
    """
    tokens = np.empty(cap, np.int32)
    offsets = np.zeros(n + 1, np.int64)
    counts = np.zeros(alias_p.shape[0], np.int64)
    rejected = np.zeros(3, np.int64)
    stack = np.empty(64, np.int32)
    depth = np.empty(64, np.int32)
    used = np.empty(64, np.int32)  # rules of the current tree, counted only if it is accepted
    done, pos, tries = 0, 0, 0
    while done < n and tries < max_tries:
        tries += 1
        stack[0] = -start - 1
        depth[0] = 0
        top, length, n_used, status = 1, 0, 0, 0
        pending = min_yield[start]
        while top > 0:
            top -= 1
            x = stack[top]
            if x >= 0:
                if pos + length == tokens.shape[0]:
                    tokens = _grow(tokens, pos + length + 1)
                tokens[pos + length] = x
                length += 1
                pending -= 1
                continue
            a = -x - 1
            d = depth[top]
            if d >= max_depth:
                status = 2
                break
            pending -= min_yield[a]
            # Walker's alias method: slot k of A's rules, then k itself or its alias
            v = uniform(state) * (lhs_start[a + 1] - lhs_start[a])
            k = int(v)
            r = lhs_start[a] + k
            if v - k >= alias_p[r]:
                r = alias_r[r]
            if n_used == used.shape[0]:
                used = _grow(used, n_used + 1)
            used[n_used] = r
            n_used += 1
            b, e = rhs_off[r], rhs_off[r + 1]
            if top + (e - b) > stack.shape[0]:
                stack = _grow(stack, top + (e - b))
                depth = _grow(depth, top + (e - b))
            for j in range(e - 1, b - 1, -1):
                y = rhs[j]
                stack[top] = y
                depth[top] = d + 1
                top += 1
                pending += 1 if y >= 0 else min_yield[-y - 1]
            if length + pending > max_len:
                status = 1
                break
        if status == 0 and length == 0:
            status = 3
        if status != 0:
            rejected[status - 1] += 1
            continue
        for k in range(n_used):
            counts[used[k]] += 1
        pos += length
        done += 1
        offsets[done] = pos
    return tokens[:pos].copy(), offsets[: done + 1].copy(), counts, rejected, tries


kernel_cache.stamp(globals())
