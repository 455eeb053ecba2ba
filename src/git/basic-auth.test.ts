import { expect, test } from "bun:test";
import { readBasicToken } from "./basic-auth.ts";

const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString("base64")}`;

test("the password is the token and the user name is ignored", () => {
  expect(readBasicToken(basic("anyone:wbt_abc.def"))).toEqual({
    kind: "token",
    token: "wbt_abc.def",
  });
});

test("a token given as the user name with an empty password is accepted", () => {
  expect(readBasicToken(basic("wbt_abc.def:"))).toEqual({ kind: "token", token: "wbt_abc.def" });
});

test("a password may contain colons", () => {
  expect(readBasicToken(basic("x:a:b"))).toEqual({ kind: "token", token: "a:b" });
});

test("no header, or empty credentials, is no credentials", () => {
  expect(readBasicToken(null)).toEqual({ kind: "none" });
  expect(readBasicToken(basic(":"))).toEqual({ kind: "none" });
});

test.each([
  ["another scheme", "Bearer wbt_abc.def"],
  ["no colon", basic("wbt_abc.def")],
  ["not base64", "Basic !!!"],
  ["nothing after the scheme", "Basic "],
])("%s is malformed", (_name, header) => {
  expect(readBasicToken(header)).toEqual({ kind: "malformed" });
});
