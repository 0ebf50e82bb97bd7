import QLoRABudget
import QLoRABudgetInputs

/// Plain SVG charts written by hand: a stacked bar per estimate against the GPU's capacity,
/// and memory against a setting with the capacity line. No scripts, no external styles.
enum SVGChart {
  struct Segment {
    let label: String
    let bytes: ByteCount
  }

  struct Bar {
    let label: String
    let segments: [Segment]
  }

  /// Fill colours by segment position (a colour-blind-safe qualitative palette, Okabe-Ito).
  static let palette = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999", "#000000", "#882255",
  ]

  /// The parts of the estimate's process peak (``MemoryEstimate/peakParts``): the bar's
  /// total is the peak the text prints.
  static func segments(_ estimate: MemoryEstimate) -> [Segment] {
    estimate.peakParts.map { Segment(label: $0.label, bytes: $0.bytes) }
  }

  /// Stacked horizontal-axis bars (one column per bar), with a dashed capacity line per GPU.
  static func stackedBars(
    title: String, bars: [Bar], capacities: [(String, ByteCount)], margin: VerdictMargin
  ) -> String {
    let width = 160 + 110 * max(1, bars.count) + 230
    let height = 420
    let plotTop = 50.0
    let plotBottom = 360.0
    let plotLeft = 70.0
    let largest = (bars.map { ByteCount.sum($0.segments.map(\.bytes)) } + capacities.map(\.1)).max() ?? ByteCount(1)
    let scaleTop = niceCeiling(largest.gibibytes)
    func y(_ gib: Double) -> Double { plotBottom - (plotBottom - plotTop) * gib / scaleTop }
    var body: [String] = []
    body.append(text(x: Double(width) / 2, y: 24, title, anchor: "middle", size: 15, weight: "bold"))
    body += axis(
      plotLeft: plotLeft, plotRight: plotLeft + 110 * Double(max(1, bars.count)) + 20, plotTop: plotTop,
      plotBottom: plotBottom, scaleTop: scaleTop, unit: "GiB")
    var labels: [String] = []
    for (index, bar) in bars.enumerated() {
      let x = plotLeft + 30 + 110 * Double(index)
      var base = 0.0
      for (position, segment) in bar.segments.enumerated() {
        let gib = segment.bytes.gibibytes
        if !labels.contains(segment.label) { labels.append(segment.label) }
        let colour = palette[(labels.firstIndex(of: segment.label) ?? position) % palette.count]
        let top = y(base + gib)
        body.append(
          "<rect class=\"segment\" x=\"\(f(x))\" y=\"\(f(top))\" width=\"70\" height=\"\(f(y(base) - top))\" "
            + "fill=\"\(colour)\"><title>\(escape(bar.label)): \(escape(segment.label)) \(segment.bytes.formatted(.binary))</title></rect>"
        )
        base += gib
      }
      body.append(text(x: x + 35, y: y(base) - 6, ByteCount.fixed(base, decimals: 1), anchor: "middle", size: 11))
      body.append(text(x: x + 35, y: plotBottom + 18, String(bar.label.prefix(16)), anchor: "middle", size: 11))
    }
    var lastLabelY = -Double.infinity
    for (name, capacity) in capacities.sorted(by: { $0.1 > $1.1 }) {
      let lineY = y(capacity.gibibytes)
      let labelY = max(lineY + 4, lastLabelY + 13)
      lastLabelY = labelY
      let right = plotLeft + 110 * Double(max(1, bars.count)) + 20
      let bandY = y(capacity.gibibytes / (1 + margin.relative))
      body.append(
        "<rect class=\"tight-band\" x=\"\(f(plotLeft))\" y=\"\(f(lineY))\" width=\"\(f(right - plotLeft))\" "
          + "height=\"\(f(bandY - lineY))\" fill=\"#E69F00\" fill-opacity=\"0.18\"><title>\(escape(name)): tight below "
          + "the capacity</title></rect>")
      body.append(
        "<line class=\"capacity\" x1=\"\(f(plotLeft))\" y1=\"\(f(lineY))\" x2=\"\(f(right))\" y2=\"\(f(lineY))\" "
          + "stroke=\"#D00000\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>")
      body.append(
        text(
          x: right + 4, y: labelY,
          "\(name) \(capacity.formatted(.binary))", anchor: "start", size: 11, fill: "#D00000"))
    }
    let legendX = plotLeft + 110 * Double(max(1, bars.count)) + 40
    for (index, label) in labels.enumerated() {
      let ly = plotTop + 40 + 18 * Double(index)
      body.append(
        "<rect x=\"\(f(legendX))\" y=\"\(f(ly - 10))\" width=\"12\" height=\"12\" fill=\"\(palette[index % palette.count])\"/>"
      )
      body.append(text(x: legendX + 18, y: ly, label, anchor: "start", size: 11))
    }
    return document(width: width, height: height, body: body)
  }

  /// One line of a chart: memory against a setting.
  struct Series {
    let label: String
    let points: [(Int64, ByteCount)]
  }

  /// Memory against a setting (rank, sequence length): one line per series, a dashed capacity
  /// line per GPU, and below each capacity the band where the verdict is tight (within the
  /// ``VerdictMargin``).
  static func lines(
    title: String, xLabel: String, series: [Series], capacities: [(String, ByteCount)], margin: VerdictMargin
  ) -> String {
    let width = 640 + (series.count > 1 ? 220 : 0)
    let height = 420
    let plotLeft = 70.0
    let plotRight = 600.0
    let plotTop = 50.0
    let plotBottom = 350.0
    let xs = series.flatMap { $0.points.map(\.0) }
    let maxX = Double(xs.max() ?? 1)
    let minX = Double(xs.min() ?? 0)
    let largest = (series.flatMap { $0.points.map(\.1) } + capacities.map(\.1)).max() ?? ByteCount(1)
    let scaleTop = niceCeiling(largest.gibibytes)
    func x(_ value: Double) -> Double { plotLeft + (plotRight - plotLeft) * (value - minX) / max(1, maxX - minX) }
    func y(_ gib: Double) -> Double { plotBottom - (plotBottom - plotTop) * gib / scaleTop }
    var body: [String] = [text(x: Double(width) / 2, y: 24, title, anchor: "middle", size: 15, weight: "bold")]
    body += axis(
      plotLeft: plotLeft, plotRight: plotRight, plotTop: plotTop, plotBottom: plotBottom, scaleTop: scaleTop,
      unit: "GiB")
    for tick in 0...4 {
      let value = minX + (maxX - minX) * Double(tick) / 4
      body.append(
        text(x: x(value), y: plotBottom + 18, NumberText.grouped(Int64(value.rounded())), anchor: "middle", size: 11))
    }
    body.append(text(x: (plotLeft + plotRight) / 2, y: plotBottom + 40, xLabel, anchor: "middle", size: 12))
    for (name, capacity) in capacities {
      let capacityY = y(capacity.gibibytes)
      let bandY = y(capacity.gibibytes / (1 + margin.relative))
      body.append(
        "<rect class=\"tight-band\" x=\"\(f(plotLeft))\" y=\"\(f(capacityY))\" width=\"\(f(plotRight - plotLeft))\" "
          + "height=\"\(f(bandY - capacityY))\" fill=\"#E69F00\" fill-opacity=\"0.18\"><title>\(escape(name)): tight "
          + "(within the \(EstimateText.percent(margin.relative)) margin)</title></rect>")
      body.append(
        "<line class=\"capacity\" x1=\"\(f(plotLeft))\" y1=\"\(f(capacityY))\" x2=\"\(f(plotRight))\" y2=\"\(f(capacityY))\" "
          + "stroke=\"#D00000\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>")
      body.append(
        text(
          x: plotRight, y: capacityY - 6, "\(name) \(capacity.formatted(.binary)); shaded: tight",
          anchor: "end", size: 11, fill: "#D00000"))
    }
    for (index, line) in series.enumerated() {
      let colour = palette[index % palette.count]
      let path = line.points.map { "\(f(x(Double($0.0)))),\(f(y($0.1.gibibytes)))" }.joined(separator: " ")
      body.append(
        "<polyline class=\"memory\" points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
      for point in line.points {
        body.append(
          "<circle cx=\"\(f(x(Double(point.0))))\" cy=\"\(f(y(point.1.gibibytes)))\" r=\"2.5\" fill=\"\(colour)\">"
            + "<title>\(escape(line.label)) \(point.0): \(point.1.formatted(.binary))</title></circle>")
      }
      if series.count > 1 {
        let ly = plotTop + 18 * Double(index)
        body.append(
          "<rect x=\"\(f(plotRight + 20))\" y=\"\(f(ly - 10))\" width=\"12\" height=\"12\" fill=\"\(colour)\"/>")
        body.append(text(x: plotRight + 38, y: ly, line.label, anchor: "start", size: 11))
      }
    }
    return document(width: width, height: height, body: body)
  }

  // MARK: - Pieces

  static func axis(
    plotLeft: Double, plotRight: Double, plotTop: Double, plotBottom: Double, scaleTop: Double, unit: String
  ) -> [String] {
    var lines = [
      "<line x1=\"\(f(plotLeft))\" y1=\"\(f(plotTop))\" x2=\"\(f(plotLeft))\" y2=\"\(f(plotBottom))\" stroke=\"#333333\"/>",
      "<line x1=\"\(f(plotLeft))\" y1=\"\(f(plotBottom))\" x2=\"\(f(plotRight))\" y2=\"\(f(plotBottom))\" stroke=\"#333333\"/>",
    ]
    for tick in 0...5 {
      let value = scaleTop * Double(tick) / 5
      let tickY = plotBottom - (plotBottom - plotTop) * Double(tick) / 5
      lines.append(
        "<line x1=\"\(f(plotLeft - 4))\" y1=\"\(f(tickY))\" x2=\"\(f(plotRight))\" y2=\"\(f(tickY))\" stroke=\"#DDDDDD\"/>"
      )
      lines.append(
        text(
          x: plotLeft - 8, y: tickY + 4, ByteCount.fixed(value, decimals: value < 10 ? 1 : 0), anchor: "end", size: 11))
    }
    lines.append(text(x: 18, y: (plotTop + plotBottom) / 2, unit, anchor: "middle", size: 12))
    return lines
  }

  static func document(width: Int, height: Int, body: [String]) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="sans-serif">
    <rect width="100%" height="100%" fill="#FFFFFF"/>
    \(body.joined(separator: "\n"))
    </svg>

    """
  }

  static func text(
    x: Double, y: Double, _ content: String, anchor: String, size: Int, weight: String = "normal",
    fill: String = "#222222"
  ) -> String {
    "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\" font-weight=\"\(weight)\" fill=\"\(fill)\">\(escape(content))</text>"
  }

  /// A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least `value`.
  static func niceCeiling(_ value: Double) -> Double {
    guard value > 0 else { return 1 }
    var magnitude = 1.0
    while magnitude * 10 <= value { magnitude *= 10 }
    while magnitude > value { magnitude /= 10 }
    for step in [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] where step * magnitude >= value * 1.05 {
      return step * magnitude
    }
    return 10 * magnitude
  }

  static func f(_ value: Double) -> String { ByteCount.fixed(value, decimals: 1) }

  static func escape(_ text: String) -> String {
    var result = ""
    for character in text {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      default: result.append(character)
      }
    }
    return result
  }
}
