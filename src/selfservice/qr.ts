/**
 * QR codes for the account page's two-step sign-in setup, as SVG markup to inline in the page
 * (not a data: URL or an image request, so the page's Content-Security-Policy stays as it is).
 */
import QRCode from "qrcode";

/**
 * The QR code of `text` as an <svg> element.
 *
 * @example
 * const svg = await qrSvg(totpUri(address, secret)); // "<svg xmlns=…>…</svg>"
 */
export async function qrSvg(text: string): Promise<string> {
  const svg: string = await QRCode.toString(text, {
    type: "svg",
    errorCorrectionLevel: "M",
    margin: 2,
  });
  return svg.trim();
}
