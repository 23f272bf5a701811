package com.fieldbook;

import java.util.LinkedHashMap;
import java.util.Map;

/** Just enough JSON for the transport's headers: one flat object of string values. */
final class Json {
  private Json() {}

  static Map<String, String> parseStringMap(String json) {
    Parser p = new Parser(json);
    Map<String, String> out = new LinkedHashMap<>();
    p.skipSpace();
    p.expect('{');
    p.skipSpace();
    if (p.peek() == '}') {
      p.pos++;
    } else {
      for (;;) {
        p.skipSpace();
        String key = p.string();
        p.skipSpace();
        p.expect(':');
        p.skipSpace();
        out.put(key, p.string());
        p.skipSpace();
        if (p.peek() == ',') {
          p.pos++;
          continue;
        }
        p.expect('}');
        break;
      }
    }
    p.skipSpace();
    if (p.pos != json.length()) throw new IllegalArgumentException("trailing characters at " + p.pos);
    return out;
  }

  private static final class Parser {
    final String s;
    int pos;

    Parser(String s) { this.s = s == null ? "" : s; }

    char peek() {
      if (pos >= s.length()) throw new IllegalArgumentException("unexpected end");
      return s.charAt(pos);
    }

    void expect(char c) {
      if (peek() != c) throw new IllegalArgumentException("expected '" + c + "' at " + pos);
      pos++;
    }

    void skipSpace() {
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
    }

    String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      for (;;) {
        char c = peek();
        pos++;
        if (c == '"') return b.toString();
        if (c != '\\') {
          b.append(c);
          continue;
        }
        char e = peek();
        pos++;
        switch (e) {
          case '"': b.append('"'); break;
          case '\\': b.append('\\'); break;
          case '/': b.append('/'); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'n': b.append('\n'); break;
          case 'r': b.append('\r'); break;
          case 't': b.append('\t'); break;
          case 'u':
            if (pos + 4 > s.length()) throw new IllegalArgumentException("bad \\u escape");
            b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
            pos += 4;
            break;
          default: throw new IllegalArgumentException("bad escape at " + pos);
        }
      }
    }
  }
}
