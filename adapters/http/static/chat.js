// The chat page of hugginggpt-bot serve: plain JavaScript, no build step, no outside origin.
// It speaks the server's OpenAI-compatible API: POST /v1/chat/completions with stream: true
// (progress chunks carry hugginggpt.progress; the last one carries hugginggpt.media), files
// as data URLs, media fetched with the key and shown from blob: URLs, and
// DELETE /v1/conversations/{id} to forget. The key lives in this tab's sessionStorage only.
"use strict";

(() => {
  const KEY = "hugginggpt.key";
  const CONVERSATION = "hugginggpt.conversation";
  const $ = (id) => document.getElementById(id);
  const pending = [];
  let busy = false;

  function apiKey() {
    return sessionStorage.getItem(KEY) || "";
  }

  function conversationId() {
    let id = sessionStorage.getItem(CONVERSATION);
    if (!id) {
      const bytes = new Uint8Array(12);
      crypto.getRandomValues(bytes);
      id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      sessionStorage.setItem(CONVERSATION, id);
    }
    return id;
  }

  function askForKey(message) {
    $("key-panel").hidden = false;
    $("composer").hidden = true;
    if (message) note(message, "error");
    $("key").focus();
  }

  function ready() {
    $("key-panel").hidden = true;
    $("composer").hidden = false;
    $("text").focus();
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function note(text, kind) {
    const node = element("p", "note " + (kind || ""), text);
    $("log").append(node);
    node.scrollIntoView({ block: "end" });
    return node;
  }

  function bubble(role) {
    const box = element("article", "message " + role);
    const status = element("pre", "status");
    status.hidden = true;
    const text = element("div", "text");
    const media = element("div", "media");
    box.append(status, text, media);
    $("log").append(box);
    return { box, status, text, media };
  }

  // -- attachments ------------------------------------------------------------------

  function showPending() {
    const list = $("attachments");
    list.replaceChildren();
    pending.forEach((file, index) => {
      const chip = element("span", "chip", file.name);
      const remove = element("button", "quiet", "×");
      remove.type = "button";
      remove.title = "Remove " + file.name;
      remove.addEventListener("click", () => {
        pending.splice(index, 1);
        showPending();
      });
      chip.append(remove);
      list.append(chip);
    });
  }

  function readAsDataUrl(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  async function contentPart(file) {
    const url = await readAsDataUrl(file);
    const type = file.type || "application/octet-stream";
    if (type.startsWith("image/")) return { type: "image_url", image_url: { url } };
    if (type.startsWith("audio/")) {
      const format = (file.name.split(".").pop() || type.split("/")[1] || "wav").toLowerCase();
      return { type: "input_audio", input_audio: { data: url.slice(url.indexOf(",") + 1), format } };
    }
    return { type: "file", file: { file_data: url, filename: file.name } };
  }

  // -- the streamed answer ---------------------------------------------------------

  async function errorText(response) {
    try {
      const body = await response.json();
      return (body.error && (body.error.message || body.error)) || response.statusText;
    } catch (_) {
      return response.statusText || "HTTP " + response.status;
    }
  }

  async function showMedia(target, media) {
    for (const item of media) {
      const response = await fetch(item.url, { headers: { Authorization: "Bearer " + apiKey() } });
      if (!response.ok) {
        target.append(element("p", "note error", item.name + ": " + (await errorText(response))));
        continue;
      }
      const url = URL.createObjectURL(await response.blob());
      let node;
      if (item.kind === "image") {
        node = element("img");
        node.alt = item.name;
      } else if (item.kind === "audio" || item.kind === "video") {
        node = element(item.kind);
        node.controls = true;
        node.preload = "metadata";
      } else {
        node = element("span", "", item.name);
      }
      if (node.tagName !== "SPAN") node.src = url;
      node.dataset.name = item.name;
      const link = element("a", "download", "download " + item.name);
      link.href = url;
      link.download = item.name;
      const figure = element("figure");
      figure.append(node, link);
      target.append(figure);
    }
  }

  function withoutLinks(text, media) {
    if (!media.length) return text;
    return text
      .split("\n")
      .filter((line) => !media.some((m) => line.includes(m.url)))
      .join("\n")
      .trim();
  }

  async function readStream(response, view) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let answer = "";
    let extension = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of frame.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message || "the turn failed");
          if (chunk.hugginggpt && chunk.hugginggpt.progress !== undefined) {
            view.status.hidden = false;
            view.status.textContent = chunk.hugginggpt.progress;
            continue;
          }
          const delta = (chunk.choices && chunk.choices[0] && chunk.choices[0].delta) || {};
          if (delta.content) {
            answer += delta.content;
            view.text.textContent = answer.trim();
          }
          if (chunk.hugginggpt) extension = chunk.hugginggpt;
        }
      }
    }
    return { answer: answer.trim(), extension };
  }

  // -- actions ---------------------------------------------------------------------

  async function send(event) {
    event.preventDefault();
    if (busy) return;
    const text = $("text").value.trim();
    if (!text && !pending.length) return;
    busy = true;
    $("send").disabled = true;
    const files = pending.splice(0, pending.length);
    showPending();
    const mine = bubble("user");
    mine.text.textContent = text;
    files.forEach((f) => mine.media.append(element("span", "chip", f.name)));
    $("text").value = "";
    const view = bubble("assistant");
    view.box.classList.add("working");
    try {
      const parts = [{ type: "text", text }];
      for (const file of files) parts.push(await contentPart(file));
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: "Bearer " + apiKey(),
          "X-Conversation-Id": conversationId(),
        },
        body: JSON.stringify({ model: "hugginggpt", stream: true, messages: [{ role: "user", content: parts }] }),
      });
      if (response.status === 401) {
        view.box.remove();
        askForKey("The key was refused: enter the server's key.");
        return;
      }
      if (!response.ok) throw new Error(await errorText(response));
      const { answer, extension } = await readStream(response, view);
      const media = (extension && extension.media) || [];
      view.text.textContent = withoutLinks(answer, media);
      await showMedia(view.media, media);
    } catch (error) {
      view.text.textContent = "";
      view.text.append(element("span", "error", "Error: " + error.message));
    } finally {
      view.box.classList.remove("working");
      view.box.classList.add("done");
      busy = false;
      $("send").disabled = false;
      view.box.scrollIntoView({ block: "end" });
    }
  }

  async function forget() {
    if (!apiKey()) return askForKey();
    const response = await fetch("/v1/conversations/" + encodeURIComponent(conversationId()), {
      method: "DELETE",
      headers: { Authorization: "Bearer " + apiKey() },
    });
    if (response.status === 401) return askForKey("The key was refused: enter the server's key.");
    if (!response.ok) return note("Could not forget: " + (await errorText(response)), "error");
    $("log").replaceChildren();
    note("Conversation forgotten: its context and files are gone.", "forgotten");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, $("key").value.trim());
      $("key").value = "";
      ready();
    });
    $("change-key").addEventListener("click", () => askForKey());
    $("composer").addEventListener("submit", send);
    $("text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) send(event);
    });
    $("file").addEventListener("change", () => {
      pending.push(...$("file").files);
      $("file").value = "";
      showPending();
    });
    $("forget").addEventListener("click", forget);
    if (apiKey()) ready();
    else askForKey();
  });
})();
